//! Schemas still hand-written in `openapi.json`, for typed parts to point at while the type
//! behind them is not yet described in Rust: `#[schema(schema_with = hand_written::message_state)]`
//! on a field, `body = ref("#/components/schemas/Name")` on a response. Each goes when its type
//! derives `ToSchema`; `access::every_reference_resolves` fails on one that names nothing.

use utoipa::openapi::Ref;

macro_rules! hand_written {
    ($($function:ident => $name:literal),* $(,)?) => {
        $(
            #[allow(dead_code)]
            pub fn $function() -> Ref {
                Ref::from_schema_name($name)
            }
        )*
    };
}

hand_written!(
    message_state => "MessageState",
    delivery_status => "DeliveryStatus",
    outbox_action => "OutboxAction",
    timestamp => "Timestamp",
    roles => "Roles",
    role_gives => "RoleGives",
    module_status => "ModuleStatus",
    effective => "Effective",
    forbidden_problem => "ForbiddenProblem",
    capability => "Capability",
    missing_training => "MissingTraining",
    channel => "Channel",
    conversation_summary => "ConversationSummary",
    normalised_message => "NormalisedMessage",
    severity => "Severity",
    step_kind => "StepKind",
    conversation_kind => "ConversationKind",
    platform => "Platform",
    faq_signal => "FaqSignal",
    faq_topic => "FaqTopic",
    faq_curation => "FaqCuration",
);
