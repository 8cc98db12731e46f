//! Staff administration: accounts, roles, channel limits, training records and API tokens, and
//! service accounts for integrations.
//!
//! An administrator's powers are bounded, so that no one widens what they may see:
//! - a channel-limited administrator reaches only accounts limited to channels inside their own
//!   limit. Everyone else does not exist for them: 404 on every route, and left out of the list.
//!   Hidden rather than shown read-only, as every other object outside a channel limit is hidden,
//!   and because such an account's channels and training record concern work the administrator
//!   has no part in (staff's personal data, kept to those who need it);
//! - nobody changes their own channel limit, and a limited administrator gives only channels
//!   inside their own limit, never "every channel" (an empty list);
//! - nobody signs off their own training (another administrator does: the trainer's job);
//! - an API token acts as its holder, so only the holder mints one (`POST /api/v1/me/tokens`).
//!   An integration gets a service account: created by an administrator with only the role it
//!   needs, no password, its token shown once at creation and rotation, and everything it does
//!   audited under its own name (`service:<name>`), never a person's. The operator on the
//!   machine keeps `tavla token create` (src/cli.rs).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::openapi::extensions::Extensions;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, SchemaType};
use utoipa::openapi::RefOr;
use utoipa::{OpenApi, PartialSchema, ToSchema};

use super::auth::Caller;
use super::description::refusals::{
    BadRequest, Duplicate, NotFound, PayloadTooLarge, UnsupportedMediaType,
};
use super::error::{AppError, Problem, Result};
use super::extract::{Json, Path};
use super::AppState;
use crate::access::training::{Effective, ModuleStatus, RoleGives};
use crate::access::{hash_password_in, new_token, AccountKind, Role, Roles};
use crate::described;
use crate::store::access::StaffAccount;
use crate::store::now_ms;
use crate::store::staff::NewAccount;

#[derive(OpenApi)]
#[openapi(paths(
    list,
    add,
    add_service_account,
    update,
    training,
    grant_training,
    create_token,
    revoke_tokens,
    create_own_token,
    revoke_own_tokens
))]
pub struct Doc;

fn role_gives_list() -> ArrayBuilder {
    ArrayBuilder::new().items(described::role_gives())
}

fn module_status_list() -> ArrayBuilder {
    ArrayBuilder::new().items(described::module_status())
}

/// Every staff account the caller may administer.
#[derive(Serialize, ToSchema)]
#[schema(as = StaffList)]
pub struct StaffListView {
    /// Every staff account, disabled ones included, by username.
    items: Vec<StaffListItem>,
}

#[derive(Serialize, ToSchema)]
pub struct StaffListItem {
    account: StaffAccount,
    /// For each role: what it gives and what training it still lacks.
    #[schema(schema_with = role_gives_list)]
    per_role: Vec<RoleGives>,
    /// Every training module with this person's state.
    #[schema(schema_with = module_status_list)]
    training: Vec<ModuleStatus>,
}

/// Staff accounts
///
/// Lists every staff account, disabled ones included, service accounts too, with its role,
/// kind, channel scope and the state of every training module.
///
/// **Access:** A channel-limited administrator sees only the accounts limited to channels
/// inside their own limit (themselves included): the others do not exist for them, as nothing
/// outside a channel limit does.
#[utoipa::path(
    get,
    path = "/api/v1/staff",
    operation_id = "listStaff",
    tag = "staff",
    responses(
        (status = 200, description = "All staff accounts.", body = StaffListView),
    )
)]

pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<impl IntoResponse> {
    let now = now_ms();
    let mut items = Vec::new();
    for account in state.store.staff_accounts().await? {
        if !caller.reaches(&account.channels) {
            continue;
        }
        let completions = state.store.completions(account.id).await?;
        let training = state.training.statuses(&completions, now);
        let per_role = Roles::parse_all(&account.roles)
            .map(|roles| {
                state
                    .training
                    .effective(&roles, &completions, now)
                    .per_role(&roles)
            })
            .unwrap_or_default();
        items.push(StaffListItem {
            account,
            per_role,
            training,
        });
    }
    Ok(axum::Json(StaffListView { items }))
}

/// The account, if the caller may administer it; otherwise, as when there is none, 404.
async fn reachable(state: &AppState, caller: &Caller, id: i64) -> Result<StaffAccount> {
    state
        .store
        .staff_account(id)
        .await?
        .filter(|a| caller.reaches(&a.channels))
        .ok_or_else(|| AppError::not_found(format!("there is no staff member {id}")))
}

fn kind_of(account: &StaffAccount) -> AccountKind {
    AccountKind::parse(&account.kind).unwrap_or(AccountKind::Person)
}

/// The channels to give an account, if the caller may give them: anything for an unlimited
/// caller; for a limited one, some channels, all inside their own limit.
fn grantable(caller: &Caller, channels: &[i64]) -> Result<Vec<i64>> {
    let mut channels = channels.to_vec();
    channels.sort_unstable();
    channels.dedup();
    if caller.reaches(&channels) {
        return Ok(channels);
    }
    let own = caller
        .scope
        .as_deref()
        .unwrap_or_default()
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    Err(AppError::forbidden(if channels.is_empty() {
        format!(
            "an account without channels works with every channel, and you administer only channels {own}; give `channels` from those"
        )
    } else {
        format!("you can give only channels inside your own limit: {own}")
    }))
}

/// Refuses roles the account's kind may not hold (a service account holds exactly one).
fn check_fit(roles: &Roles, kind: AccountKind) -> Result<()> {
    roles.fit(kind).map_err(AppError::unprocessable)
}

/// The roles asked for: `roles` (one or more, no repeats), or `role` as clients written before
/// several roles send it (one role, `[role]`). Both at once are refused rather than one
/// silently winning.
fn asked_roles(role: Option<&str>, roles: Option<&[String]>) -> Result<Option<Roles>> {
    match (role, roles) {
        (Some(_), Some(_)) => Err(AppError::unprocessable(
            "give either `roles` (a list) or `role` (one role, as before), not both",
        )),
        (Some(role), None) => Ok(Some(Roles::one(parse_role(role)?))),
        (None, Some(names)) => {
            if names.is_empty() {
                return Err(AppError::unprocessable(
                    "`roles` needs at least one role; to take all access away, disable the account",
                ));
            }
            let parsed = names
                .iter()
                .map(|n| parse_role(n))
                .collect::<Result<Vec<Role>>>()?;
            let roles = Roles::new(parsed.iter().copied())
                .ok_or_else(|| AppError::unprocessable("`roles` needs at least one role"))?;
            if roles.len() != names.len() {
                return Err(AppError::unprocessable(
                    "`roles` names a role twice; name each once",
                ));
            }
            Ok(Some(roles))
        }
        (None, None) => Ok(None),
    }
}

/// A staff member to add, with `roles` (or, as before, one `role`; not both). Unknown fields are
/// refused (422).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewStaffFields, example = json!({"username": "bertil",
    "roles": ["communicator", "moderator"], "password": "långt och hemligt lösenord"}))]
pub struct NewStaff {
    /// Trimmed; 1 to 64 characters; unique (an existing name is refused with 409). Names
    /// beginning with `service:` are refused (422): they are service accounts'.
    #[schema(min_length = 1, max_length = 64, pattern = r"^(?!\s*service:)")]
    username: String,
    // Described in `person_role`.
    #[schema(schema_with = person_role)]
    role: Option<String>,
    // Described in `person_roles`.
    #[schema(schema_with = person_roles)]
    roles: Option<Vec<String>>,
    /// At least 12 characters. Without one the person cannot sign in with a password; create an
    /// API token instead.
    #[schema(min_length = 12)]
    password: Option<String>,
    /// The channel ids to limit the person to; absent or empty: every channel. A channel-limited
    /// administrator must give channels, all inside their own limit (403 otherwise). An unknown
    /// channel id is refused with 422.
    channels: Option<Vec<i64>>,
}

/// A schema written as JSON: for the few rules across fields (or against one value of an enum)
/// that utoipa's attributes and model cannot state (`not`, `const`). Carried as the members of
/// an otherwise empty schema, which serialises as exactly the JSON given.
fn json_schema(value: serde_json::Value) -> Schema {
    let serde_json::Value::Object(members) = value else {
        unreachable!("a schema fragment is a JSON object")
    };
    let mut schema = ObjectBuilder::new()
        .schema_type(SchemaType::AnyValue)
        .build();
    schema.extensions = Some(Extensions::from_iter(members));
    Schema::Object(schema)
}

/// A role a person may hold: any but `integration`.
fn person_role() -> Schema {
    json_schema(
        json!({"description": "One role, as clients written before several roles send \
            it: the same as `roles: [role]`. Give `role` or `roles`, not both (422). Any other value \
            is refused with 422, and so is `integration` (service accounts only).", "oneOf": [
            {"allOf": [{"$ref": "#/components/schemas/Role"}], "not": {"const": "integration"}},
            {"type": "null"}
        ]}),
    )
}

fn person_roles() -> Schema {
    json_schema(
        json!({"description": "The person's roles, one or more, each named once: what \
        they may do is the union of the roles' capabilities, each gated by its own training. \
        `integration` is refused (service accounts only); an empty list, a repeat or an unknown \
        role is refused with 422.", "type": ["array", "null"], "minItems": 1, "uniqueItems": true,
        "items": {"allOf": [{"$ref": "#/components/schemas/Role"}], "not": {"const": "integration"}}}),
    )
}

fn any_roles() -> Schema {
    json_schema(
        json!({"description": "The whole set of roles, replacing what the person holds; \
        one or more, each named once (an empty list, a repeat or an unknown role is refused with \
        422). A person cannot hold `integration`, a service account holds exactly one role and \
        never `admin` (422). Your own set must keep `admin`. Concurrent changes end with one set, \
        whole. A change of roles is audited (`staff.updated` with `roles` and `roles_before`) and \
        ends the person's sessions and event streams; their API tokens act with the new roles \
        from the next request.", "type": ["array", "null"], "minItems": 1, "uniqueItems": true,
        "items": {"$ref": "#/components/schemas/Role"}}),
    )
}

/// A derived request schema with `role` or `roles`, not both (and, when `required`, one of
/// them): the rule across the fields, said once here for both requests that take them.
fn role_or_roles(fields: RefOr<Schema>, required: bool) -> RefOr<Schema> {
    let mut rule = json!({"not": {"required": ["role", "roles"],
        "properties": {"role": {"type": "string"}, "roles": {"type": "array"}}}});
    if required {
        rule["anyOf"] = json!([
            {"required": ["role"], "properties": {"role": {"type": "string"}}},
            {"required": ["roles"], "properties": {"roles": {"type": "array"}}}
        ]);
    }
    super::description::with_rule(fields, rule)
}

/// A request's derived fields with the role-or-roles rule across them, under the public name
/// the hand-written description gave it (`$required`: one of `role` and `roles` must be there).
macro_rules! with_role_rule {
    ($request:ident, $fields:ident, $name:literal, $required:literal) => {
        #[doc = concat!("[`", stringify!($fields), "`]'s fields and the rule across them, as `", $name, "`.")]
        pub struct $request;

        impl PartialSchema for $request {
            fn schema() -> RefOr<Schema> {
                role_or_roles($fields::schema(), $required)
            }
        }

        impl ToSchema for $request {
            fn name() -> std::borrow::Cow<'static, str> {
                $name.into()
            }
            fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
                schemas.push((Role::name().into(), Role::schema()));
            }
        }
    };
}

with_role_rule!(NewStaffRequest, NewStaff, "NewStaff", true);

/// A new person's account as it was added.
#[derive(Serialize, ToSchema)]
#[schema(as = StaffMember)]
pub struct NewStaffView {
    id: i64,
    username: String,
    /// The first of `roles`, for clients written before several roles.
    role: Role,
    #[schema(schema_with = described::roles)]
    roles: Roles,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"staff": {"id": 7, "username": "bertil", "role": "communicator",
    "roles": ["communicator"]}}))]
pub struct StaffCreated {
    staff: NewStaffView,
}

fn parse_role(role: &str) -> Result<Role> {
    Role::parse(role).ok_or_else(|| {
        AppError::unprocessable(
            "role must be agent, communicator, moderator, admin or auditor (integration for service accounts)",
        )
    })
}

/// Add a staff member
///
/// Adds a staff account with a role and, optionally, a password. A new account has no training
/// recorded, so it has no effective capability that needs training until its training is
/// recorded (POST /api/v1/staff/{id}/training). Recorded in the audit trail (`staff.added`).
///
/// **Access:** A channel-limited administrator must limit the new account to channels inside
/// their own limit (an account without channels works with every channel).
#[utoipa::path(
    post,
    path = "/api/v1/staff",
    operation_id = "addStaff",
    tag = "staff",
    request_body(content = NewStaffRequest, description = "The staff member to add."),
    responses(
        (status = 201, description = "Added.", body = StaffCreated),
        (status = 400, response = BadRequest),
        (status = 403, description = "The capability is not effective for the caller (see the \
            route's access rule), or the session cookie's `X-CSRF-Token` header is missing or \
            wrong; or a channel-limited administrator gave no channels, or a channel outside \
            their own limit.", body = ref("#/components/schemas/ForbiddenProblem"),
            content_type = "application/problem+json"),
        (status = 404, response = NotFound),
        (status = 409, response = Duplicate),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "The role is unknown, `role` and `roles` are both given or \
            neither is, `roles` is empty or names a role twice, the username is empty, longer \
            than 64 characters or taken, the password is shorter than 12 characters, or the body \
            has unknown or missing fields.", body = Problem,
            content_type = "application/problem+json"),
    )
)]
pub async fn add(
    State(state): State<AppState>,
    caller: Caller,
    Json(new): Json<NewStaff>,
) -> Result<impl IntoResponse> {
    let channels = grantable(&caller, new.channels.as_deref().unwrap_or_default())?;
    let roles = asked_roles(new.role.as_deref(), new.roles.as_deref())?
        .ok_or_else(|| AppError::unprocessable("give the person's `roles` (or one `role`)"))?;
    check_fit(&roles, AccountKind::Person)?;
    let username = new.username.trim().to_string();
    if username.is_empty() || username.chars().count() > 64 {
        return Err(AppError::unprocessable(
            "the username must be 1 to 64 characters",
        ));
    }
    if username.starts_with(AccountKind::SERVICE_PREFIX) {
        return Err(AppError::unprocessable(
            "names beginning with service: are service accounts' (POST /api/v1/service-accounts); choose another username",
        ));
    }
    let hash = match new.password {
        Some(p) if p.chars().count() < 12 => {
            return Err(AppError::unprocessable(
                "the password must have at least 12 characters",
            ))
        }
        Some(p) => {
            // Hashed in the same few slots as sign-ins, so administrators cannot be used to
            // exhaust memory either.
            super::session::check_length(&p, "the password")?;
            let hashed = state
                .password_hashing
                .run(move |memory| hash_password_in(&p, memory))
                .await
                .map_err(|e| super::session::busy(e, &state.settings))?;
            Some(hashed.map_err(AppError::internal)?)
        }
        None => None,
    };
    let staff = state
        .store
        .add_account(
            &NewAccount {
                username: &username,
                role: roles.primary().as_str(),
                roles: &roles.names(),
                kind: AccountKind::Person.as_str(),
                password_hash: hash.as_deref(),
                channels: &channels,
                token: None,
            },
            &caller.actor(),
        )
        .await?;
    let staff = NewStaffView {
        id: staff.id,
        username: staff.username,
        role: roles.primary(),
        roles,
    };
    Ok((StatusCode::CREATED, axum::Json(StaffCreated { staff })))
}

/// An integration's own account. Unknown fields are refused (422).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "crm-import", "channels": [1]}))]
pub struct NewServiceAccount {
    /// Lowercase letters, digits and hyphens, 2 to 48: the account is named `service:<name>`
    /// (unique; an existing name is refused with 409).
    #[schema(pattern = "^[a-z0-9][a-z0-9-]{1,47}$")]
    name: String,
    // Described in `service_role`.
    #[schema(schema_with = service_role)]
    role: Option<String>,
    /// The channel ids it is limited to (it may submit messages only for those); absent or
    /// empty: every channel. A channel-limited administrator must give channels inside their own
    /// limit (403 otherwise).
    channels: Option<Vec<i64>>,
}

/// A role a service account may hold: any but `admin`.
fn service_role() -> Schema {
    json_schema(
        json!({"description": "`integration` when absent: it submits messages and reads \
            nothing. Another role only deliberately (a reading role also needs its training signed \
            off, POST /api/v1/staff/{id}/training); `admin` is refused with 422.", "oneOf": [
            {"allOf": [{"$ref": "#/components/schemas/Role"}], "not": {"const": "admin"}},
            {"type": "null"}
        ]}),
    )
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"account": {"id": 12, "username": "service:crm-import",
    "role": "integration", "disabled": false, "has_password": false, "channels": [1],
    "kind": "service"}, "token": "tavla_a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1"}))]
pub struct ServiceAccountCreated {
    account: StaffAccount,
    /// The service account's API token. It is shown only this once (only its digest is
    /// stored); rotate it with POST /api/v1/staff/{id}/tokens.
    #[schema(pattern = "^tavla_[0-9a-f]{64}$")]
    token: String,
}

fn valid_service_name(name: &str) -> bool {
    (2..=48).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
}

/// Add a service account for an integration
///
/// Creates an integration's own account, named `service:<name>`, with only the role it needs
/// (`integration` by default: it submits messages through POST /api/v1/messages and reads
/// nothing; a reading role only deliberately, and never `admin`), optionally limited to
/// channels, and returns its API token, shown only this once. It has no password, so it cannot
/// sign in; it cannot mint tokens for itself (an administrator rotates them with POST
/// /api/v1/staff/{id}/tokens, and disables it with PATCH /api/v1/staff/{id}); what it does is
/// audited under its own name, never a person's. Recorded in the audit trail (`staff.added` with
/// `kind`, `token.created`).
///
/// **Access:** A channel-limited administrator must limit it to channels inside their own limit
/// (403 otherwise).
#[utoipa::path(
    post,
    path = "/api/v1/service-accounts",
    operation_id = "addServiceAccount",
    tag = "staff",
    request_body(content = NewServiceAccount, description = "The service account to add."),
    responses(
        (status = 201, description = "Created, with its token.", body = ServiceAccountCreated),
        (status = 400, response = BadRequest),
        (status = 403, description = "The capability is not effective for the caller (see the \
            route's access rule), or the session cookie's `X-CSRF-Token` header is missing or \
            wrong; or a channel-limited administrator gave no channels, or a channel outside \
            their own limit.", body = ref("#/components/schemas/ForbiddenProblem"),
            content_type = "application/problem+json"),
        (status = 404, response = NotFound),
        (status = 409, response = Duplicate),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "The name is not 2 to 48 lowercase letters, digits and \
            hyphens, or is taken; the role is unknown or `admin`; a channel is unknown; or the \
            body has unknown or missing fields.", body = Problem,
            content_type = "application/problem+json"),
    )
)]
pub async fn add_service_account(
    State(state): State<AppState>,
    caller: Caller,
    Json(new): Json<NewServiceAccount>,
) -> Result<impl IntoResponse> {
    let channels = grantable(&caller, new.channels.as_deref().unwrap_or_default())?;
    let role = match new.role.as_deref() {
        Some(role) => parse_role(role)?,
        None => Role::Integration,
    };
    check_fit(&Roles::one(role), AccountKind::Service)?;
    if !valid_service_name(&new.name) {
        return Err(AppError::unprocessable(
            "the name must be 2 to 48 lowercase letters, digits and hyphens, e.g. crm-import",
        ));
    }
    let username = format!("{}{}", AccountKind::SERVICE_PREFIX, new.name);
    let token = new_token();
    let staff = state
        .store
        .add_account(
            &NewAccount {
                username: &username,
                role: role.as_str(),
                roles: &[],
                kind: AccountKind::Service.as_str(),
                password_hash: None,
                channels: &channels,
                token: Some(&token),
            },
            &caller.actor(),
        )
        .await?;
    let account = reachable(&state, &caller, staff.id).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(ServiceAccountCreated { account, token }),
    ))
}

/// What to change; absent (or null) fields stay as they are. Unknown fields are refused (422).
/// A change of roles or disabling ends the person's sessions (and so their event streams).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = StaffChangeFields, example = json!({"roles": ["communicator", "moderator"],
    "channels": [1, 4]}))]
pub struct StaffChange {
    /// One role, as clients written before several roles send it: the same as `roles: [role]`.
    /// Give `role` or `roles`, not both (422). Any other value is refused with 422, and so is
    /// `integration` for a person and `admin` for a service account. You cannot take away your
    /// own admin role.
    #[schema(value_type = Option<Role>)]
    role: Option<String>,
    // Described in `any_roles`.
    #[schema(schema_with = any_roles)]
    roles: Option<Vec<String>>,
    /// `true` disables the account (you cannot disable yourself); `false` enables it again.
    disabled: Option<bool>,
    /// The channel ids to limit the person to, replacing the current list; an empty array means
    /// every channel. Nobody changes their own limit (403). A channel-limited administrator
    /// gives only channels inside their own limit and never every channel (403). An unknown
    /// channel id is refused with 422.
    channels: Option<Vec<i64>>,
    /// The unit the person belongs to (one of `units` in `integrations_file` when it lists
    /// any); null or "" for none. Handovers to the unit reach them (`GET
    /// /api/v1/conversations?handed=unit`).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 100)]
    unit: Option<Option<String>>,
}

with_role_rule!(StaffChangeRequest, StaffChange, "StaffChange", false);

/// The account as it is now.
#[derive(Serialize, ToSchema)]
#[schema(as = StaffAccountResponse)]
pub struct StaffAccountView {
    account: StaffAccount,
}

/// Tells a field given as null (`Some(None)`) from one left out (`None`).
pub(super) fn present<'de, D>(d: D) -> std::result::Result<Option<Option<String>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    Ok(Some(Option::deserialize(d)?))
}

/// The unit to set, trimmed, if it is one conversations are handed to.
fn checked_unit(state: &AppState, unit: Option<&str>) -> Result<Option<String>> {
    let Some(unit) = unit.map(str::trim).filter(|u| !u.is_empty()) else {
        return Ok(None);
    };
    if unit.chars().count() > 100 {
        return Err(AppError::unprocessable(
            "a unit's name has at most 100 characters",
        ));
    }
    if !state.integrations.unit_allowed(unit) {
        return Err(AppError::unprocessable(format!(
            "{unit:?} is not one of the organisation's units; choose one of: {}",
            state.integrations.units.join(", ")
        )));
    }
    Ok(Some(unit.to_string()))
}

/// Change a staff member
///
/// Changes a staff member's role, disabled state or channel scope; fields left out stay as they
/// are. Changing the role or disabling the account ends the person's sessions (and their event
/// streams); API tokens of a disabled account are refused until it is enabled again. A scope
/// change applies to new requests. Recorded in the audit trail (`staff.updated`). The role must
/// fit the account: `integration` only for service accounts, `admin` only for people (422).
///
/// **Access:** Nobody changes their own channel limit (403), disables themselves or takes away
/// their own admin role (422). A channel-limited administrator reaches only accounts limited to
/// channels inside their own limit (any other answers 404, as if it did not exist) and gives
/// only channels inside it, never every channel (403).
#[utoipa::path(
    patch,
    path = "/api/v1/staff/{id}",
    operation_id = "updateStaff",
    tag = "staff",
    params(("id" = i64, Path, description = "The staff id (an integer; see GET /api/v1/staff).")),
    request_body(content = StaffChangeRequest, description = "What to change."),
    responses(
        (status = 200, description = "The account as it is now.", body = StaffAccountView),
        (status = 400, response = BadRequest),
        (status = 403, description = "The capability is not effective for the caller (see the \
            route's access rule), or the session cookie's `X-CSRF-Token` header is missing or \
            wrong; or the change is to the caller's own channel limit, or gives channels outside \
            a limited caller's own limit (or every channel).", body = ref("#/components/schemas/ForbiddenProblem"),
            content_type = "application/problem+json"),
        (status = 404, description = "There is no such staff member, or the account is limited \
            more widely than the caller (a channel-limited administrator).", body = Problem,
            content_type = "application/problem+json"),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "The role is unknown; `role` and `roles` are both given; \
            `roles` is empty or names a role twice; a person was given `integration`, or a \
            service account `admin` or more than one role; a channel id is unknown; the caller \
            tried to disable themselves or take away their own admin role; or the body has \
            unknown fields or wrong types.", body = Problem,
            content_type = "application/problem+json"),
    )
)]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(change): Json<StaffChange>,
) -> Result<impl IntoResponse> {
    let roles = asked_roles(change.role.as_deref(), change.roles.as_deref())?;
    let account = reachable(&state, &caller, id).await?;
    let own = id == caller.staff.id;
    if own && change.channels.is_some() {
        return Err(AppError::forbidden(
            "nobody changes their own channel limit; ask another administrator",
        ));
    }
    if own
        && (change.disabled == Some(true)
            || roles.as_ref().is_some_and(|r| !r.contains(Role::Admin)))
    {
        return Err(AppError::unprocessable(
            "you cannot disable yourself or take away your own administrator role; ask another administrator",
        ));
    }
    let channels = change
        .channels
        .as_deref()
        .map(|c| grantable(&caller, c))
        .transpose()?;
    if let Some(roles) = &roles {
        check_fit(roles, kind_of(&account))?;
    }
    let unit = change
        .unit
        .as_ref()
        .map(|u| checked_unit(&state, u.as_deref()))
        .transpose()?;
    state
        .store
        .change_staff(
            id,
            roles.as_ref().map(Roles::names).as_deref(),
            change.disabled,
            channels.as_deref(),
            unit.as_ref().map(|u| u.as_deref()),
            &caller.actor(),
        )
        .await?;
    let account = state
        .store
        .staff_account(id)
        .await?
        .ok_or_else(|| AppError::not_found(format!("there is no staff member {id}")))?;
    Ok(axum::Json(StaffAccountView { account }))
}

/// A staff member's account and training.
#[derive(Serialize, ToSchema)]
#[schema(as = StaffTraining)]
pub struct StaffTrainingView {
    account: StaffAccount,
    /// For each role: what it gives and what training it still lacks.
    #[schema(schema_with = role_gives_list)]
    per_role: Vec<RoleGives>,
    #[schema(schema_with = described::effective)]
    training: Effective,
}

/// A staff member's training
///
/// Returns the account and what it may do now: effective capabilities, what training still
/// withholds per capability, and every module's state.
///
/// **Access:** A channel-limited administrator reaches only accounts limited to channels inside
/// their own limit (404 otherwise).
#[utoipa::path(
    get,
    path = "/api/v1/staff/{id}/training",
    operation_id = "staffTraining",
    tag = "staff",
    params(("id" = i64, Path, description = "The staff id (an integer; see GET /api/v1/staff).")),
    responses(
        (status = 200, description = "The account and its training.", body = StaffTrainingView),
        (status = 400, response = BadRequest),
        (status = 404, description = "There is no such staff member, or it lies outside a \
            channel-limited caller's reach.", body = Problem,
            content_type = "application/problem+json"),
    )
)]
pub async fn training(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<impl IntoResponse> {
    let account = reachable(&state, &caller, id).await?;
    let completions = state.store.completions(id).await?;
    let roles = Roles::parse_all(&account.roles)
        .ok_or_else(|| AppError::internal(format!("staff {id} has no known role")))?;
    let effective = state.training.effective(&roles, &completions, now_ms());
    Ok(axum::Json(StaffTrainingView {
        account,
        per_role: effective.per_role(&roles),
        training: effective,
    }))
}

/// Completed training to record. Unknown fields are refused (422).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = TrainingGrant, example = json!({"modules": ["social-media-basics", "gdpr",
    "contact-centre-1"], "completed_at": 1762071300000_i64}))]
pub struct Completed {
    /// Module ids from config/training.toml (shipped: social-media-basics,
    /// tone-and-plain-language, gdpr, hateful-posts-routine, image-choice, contact-centre-1,
    /// contact-centre-2, contact-centre-3), or `["all"]` for every module (`all` anywhere in the
    /// list means every module). An unknown id is refused with 422 and nothing is recorded.
    #[schema(min_items = 1)]
    modules: Vec<String>,
    /// When the training was completed; now when absent or null. A time in the future is
    /// refused with 422. A completion older than the module's `valid_days` is recorded but
    /// counts as expired. Milliseconds since the Unix epoch.
    completed_at: Option<i64>,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"recorded": ["social-media-basics", "gdpr", "contact-centre-1"]}))]
pub struct TrainingRecorded {
    /// The module ids recorded (every module when `all` was given).
    recorded: Vec<String>,
}

/// Record completed training
///
/// Records that a staff member completed training modules (or every module with `["all"]`),
/// signed off by the caller. The latest completion of a module counts; it stays valid for the
/// module's `valid_days` (0: forever). Each module recorded is an entry in the audit trail
/// (`training.completed`).
///
/// **Access:** Nobody signs off their own training (403: another administrator does, the
/// trainer's job); one administrator may sign off another's. A channel-limited administrator
/// reaches only accounts limited to channels inside their own limit (404 otherwise).
#[utoipa::path(
    post,
    path = "/api/v1/staff/{id}/training",
    operation_id = "recordTraining",
    tag = "staff",
    params(("id" = i64, Path, description = "The staff id (an integer; see GET /api/v1/staff).")),
    request_body(content = Completed, description = "The completed modules."),
    responses(
        (status = 201, description = "Recorded.", body = TrainingRecorded),
        (status = 400, response = BadRequest),
        (status = 403, description = "The capability is not effective for the caller (see the \
            route's access rule), or the session cookie's `X-CSRF-Token` header is missing or \
            wrong; or the training is the caller's own: ask another administrator to sign it \
            off.", body = ref("#/components/schemas/ForbiddenProblem"),
            content_type = "application/problem+json"),
        (status = 404, description = "There is no such staff member, or it lies outside a \
            channel-limited caller's reach.", body = Problem,
            content_type = "application/problem+json"),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "No module is named, a module id is unknown (the detail \
            lists the known ones), `completed_at` lies in the future, or the body has unknown or \
            missing fields.", body = Problem,
            content_type = "application/problem+json"),
    )
)]
pub async fn grant_training(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(done): Json<Completed>,
) -> Result<impl IntoResponse> {
    reachable(&state, &caller, id).await?;
    if id == caller.staff.id {
        return Err(AppError::forbidden(
            "nobody signs off their own training; ask another administrator (your trainer) to sign it off",
        ));
    }
    let modules: Vec<String> = if done.modules.iter().any(|m| m == "all") {
        state
            .training
            .modules
            .iter()
            .map(|m| m.id.clone())
            .collect()
    } else {
        done.modules
    };
    if modules.is_empty() {
        return Err(AppError::unprocessable(
            "name at least one module (or \"all\")",
        ));
    }
    for m in &modules {
        if state.training.module(m).is_none() {
            let known: Vec<_> = state
                .training
                .modules
                .iter()
                .map(|m| m.id.as_str())
                .collect();
            return Err(AppError::unprocessable(format!(
                "there is no training module {m:?}; the modules are {}",
                known.join(", ")
            )));
        }
    }
    let now = now_ms();
    let at = done.completed_at.unwrap_or(now);
    if at > now {
        return Err(AppError::unprocessable("completed_at lies in the future"));
    }
    for m in &modules {
        state
            .store
            .record_completion(id, m, at, &caller.actor())
            .await?;
    }
    Ok((
        StatusCode::CREATED,
        axum::Json(TrainingRecorded { recorded: modules }),
    ))
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"token": "tavla_a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1",
    "revoked": 1}))]
pub struct TokenRotated {
    /// The new API token. It is shown only this once (only its digest is stored); send it as
    /// `Authorization: Bearer <token>`.
    #[schema(pattern = "^tavla_[0-9a-f]{64}$")]
    token: String,
    /// How many of the account's earlier tokens stopped working now.
    #[schema(minimum = 0)]
    revoked: u64,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"revoked": 2}))]
pub struct TokensRevoked {
    /// How many tokens were revoked now (0 when none was valid).
    #[schema(minimum = 0)]
    revoked: u64,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"token": "tavla_a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1"}))]
pub struct TokenCreated {
    /// The new API token. It is shown only this once (only its digest is stored); send it as
    /// `Authorization: Bearer <token>`.
    #[schema(pattern = "^tavla_[0-9a-f]{64}$")]
    token: String,
}

/// Rotate a service account's API token
///
/// Creates a new API token for a service account (an integration's own account) and revokes its
/// earlier ones in the same step; the token is shown only in this answer. A person's tokens are
/// theirs to mint: an API token acts as its holder, so only the person mints one (POST
/// /api/v1/me/tokens); an administrator never holds a token that acts as someone else. No
/// request body. Recorded in the audit trail (`token.revoked` with `rotated`, `token.created`).
///
/// **Access:** Refused (403) for a person's account. A channel-limited administrator reaches
/// only accounts limited to channels inside their own limit (404 otherwise).
#[utoipa::path(
    post,
    path = "/api/v1/staff/{id}/tokens",
    operation_id = "rotateServiceAccountToken",
    tag = "staff",
    params(("id" = i64, Path, description = "The staff id (an integer; see GET /api/v1/staff).")),
    responses(
        (status = 201, description = "Created; the earlier tokens no longer work.",
            body = TokenRotated),
        (status = 400, response = BadRequest),
        (status = 403, description = "The capability is not effective for the caller (see the \
            route's access rule), or the session cookie's `X-CSRF-Token` header is missing or \
            wrong; or the account is a person's, not a service account.", body = ref("#/components/schemas/ForbiddenProblem"),
            content_type = "application/problem+json"),
        (status = 404, description = "There is no such staff member, or it lies outside a \
            channel-limited caller's reach.", body = Problem,
            content_type = "application/problem+json"),
        (status = 422, description = "The account is disabled; enable it first.", body = Problem,
            content_type = "application/problem+json"),
    )
)]
pub async fn create_token(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<impl IntoResponse> {
    let account = reachable(&state, &caller, id).await?;
    if kind_of(&account) != AccountKind::Service {
        return Err(AppError::forbidden(
            "an API token acts as the person who holds it, so only they can create one (POST /api/v1/me/tokens, signed in as themselves); an integration gets a service account of its own: POST /api/v1/service-accounts",
        ));
    }
    if account.disabled {
        return Err(AppError::unprocessable(
            "the account is disabled; enable it first",
        ));
    }
    let token = new_token();
    let revoked = state
        .store
        .rotate_token(id, &token, &caller.actor())
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(TokenRotated { token, revoked }),
    ))
}

/// Revoke a staff member's API tokens
///
/// Revokes every valid API token of the staff member (a lost laptop, a finished integration);
/// requests with them answer 401 from then on. Sessions are not affected. No request body.
/// Recorded in the audit trail (`token.revoked`, with the number revoked), also when there was
/// nothing to revoke. Note: an event stream already opened with a revoked token is not ended by
/// the revocation.
///
/// **Access:** A channel-limited administrator reaches only accounts limited to channels inside
/// their own limit (404 otherwise).
#[utoipa::path(
    delete,
    path = "/api/v1/staff/{id}/tokens",
    operation_id = "revokeStaffTokens",
    tag = "staff",
    params(("id" = i64, Path, description = "The staff id (an integer; see GET /api/v1/staff).")),
    responses(
        (status = 200, description = "Revoked.", body = TokensRevoked),
        (status = 400, response = BadRequest),
        (status = 404, description = "There is no such staff member, or it lies outside a \
            channel-limited caller's reach.", body = Problem,
            content_type = "application/problem+json"),
    )
)]
pub async fn revoke_tokens(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<impl IntoResponse> {
    reachable(&state, &caller, id).await?;
    let revoked = state.store.revoke_tokens(id, &caller.actor()).await?;
    Ok(axum::Json(TokensRevoked { revoked }))
}

/// Live tokens a person may hold at once: enough for a few scripts, and a bound on the table.
const MAX_OWN_TOKENS: i64 = 10;

/// Create an API token of my own
///
/// Creates an API token that acts as the caller (their role, training and channel scope), for
/// their own scripts; it is shown only in this answer. A person holds at most 10 working tokens
/// at once (422 beyond: revoke them first). No request body. Recorded in the audit trail
/// (`token.created`, target the caller).
///
/// **Access:** Only the holder mints a token that acts as them; a service account's token is
/// rotated by an administrator instead (403).
#[utoipa::path(
    post,
    path = "/api/v1/me/tokens",
    operation_id = "createMyToken",
    tag = "session",
    responses(
        (status = 201, description = "Created.", body = TokenCreated),
        (status = 400, response = BadRequest),
        (status = 403, description = "The caller is a service account (an administrator rotates \
            its token), or the session cookie's `X-CSRF-Token` header is missing or wrong.", body = ref("#/components/schemas/ForbiddenProblem"),
            content_type = "application/problem+json"),
        (status = 422, description = "The caller already holds 10 working tokens; revoke them \
            with DELETE /api/v1/me/tokens first.", body = Problem,
            content_type = "application/problem+json"),
    )
)]
pub async fn create_own_token(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<impl IntoResponse> {
    let account = state
        .store
        .staff_account(caller.staff.id)
        .await?
        .ok_or_else(|| AppError::unauthorized("your account no longer exists"))?;
    if kind_of(&account) == AccountKind::Service {
        return Err(AppError::forbidden(format!(
            "a service account's token is rotated by an administrator (POST /api/v1/staff/{}/tokens)",
            account.id
        )));
    }
    if state.store.live_tokens(account.id).await? >= MAX_OWN_TOKENS {
        return Err(AppError::unprocessable(format!(
            "you already have {MAX_OWN_TOKENS} API tokens that work; revoke them (DELETE /api/v1/me/tokens) and create the ones you need"
        )));
    }
    let token = new_token();
    state
        .store
        .add_api_token(account.id, &token, &caller.actor())
        .await?;
    Ok((StatusCode::CREATED, axum::Json(TokenCreated { token })))
}

/// Revoke my API tokens
///
/// Revokes every valid API token of the caller (a lost laptop, a finished script); requests with
/// them answer 401 from then on. Sessions are not affected. No request body. Recorded in the
/// audit trail (`token.revoked`, with the number revoked).
#[utoipa::path(
    delete,
    path = "/api/v1/me/tokens",
    operation_id = "revokeMyTokens",
    tag = "session",
    responses(
        (status = 200, description = "Revoked.", body = TokensRevoked),
        (status = 400, response = BadRequest),
    )
)]
pub async fn revoke_own_tokens(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<impl IntoResponse> {
    let revoked = state
        .store
        .revoke_tokens(caller.staff.id, &caller.actor())
        .await?;
    Ok(axum::Json(TokensRevoked { revoked }))
}
