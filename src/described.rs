//! Schemas of the API description (src/http/description) named, for typed parts to point at
//! without importing the type behind them: one still hand-written in `src/http/openapi.json`,
//! or one whose type lives in a layer the pointing one may not import (a store row names the
//! `Role` schema; the store imports no capability, DESIGN.md §4). Use
//! `#[schema(schema_with = described::message_state)]` on a field. A name goes when its type
//! derives `ToSchema` and can be named directly; `access::every_reference_resolves` fails on one
//! that names nothing.

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
    role => "Role",
    roles => "Roles",
    role_gives => "RoleGives",
    module_status => "ModuleStatus",
    effective => "Effective",
    forbidden_problem => "ForbiddenProblem",
    capability => "Capability",
    missing_training => "MissingTraining",
    channel => "Channel",
    severity => "Severity",
    step_kind => "StepKind",
    conversation_kind => "ConversationKind",
    platform => "Platform",
    withheld => "Withheld",
    meta_webhook => "MetaWebhook",
    finding => "Finding",
);

/// A named schema, or null: for an `Option` field whose `null` the service takes as absent.
fn or_null(named: Ref) -> utoipa::openapi::Schema {
    or_null_with(named, None)
}

/// A named schema, or null, with the description of the field that holds it beside both (utoipa
/// would set a derived `Option` field's description on the reference, where it hides the named
/// schema's own). For a `schema_with` function; name the type with `ToSchema::name` where it
/// can be imported.
pub fn or_null_described(name: &str, description: &str) -> utoipa::openapi::Schema {
    or_null_with(Ref::from_schema_name(name), Some(description))
}

fn or_null_with(named: Ref, description: Option<&str>) -> utoipa::openapi::Schema {
    utoipa::openapi::Schema::OneOf(
        utoipa::openapi::schema::OneOfBuilder::new()
            .item(named)
            .item(
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::Null),
            )
            .description(description)
            .build(),
    )
}

/// `Severity`, or null (the reporter left the level to the service).
pub fn severity_or_null() -> utoipa::openapi::Schema {
    or_null(severity())
}

/// A list of `Finding` (triage's flag as the store keeps it).
pub fn findings() -> utoipa::openapi::Array {
    utoipa::openapi::Array::new(finding())
}

/// `Withheld`, or null (nothing is withheld), with the words every message view gives it (a
/// field's doc comment does not reach a `schema_with` schema).
pub fn withheld_or_null() -> utoipa::openapi::Schema {
    or_null_described(
        "Withheld",
        "Why `text` is null although the message has words; null when nothing is withheld.",
    )
}
