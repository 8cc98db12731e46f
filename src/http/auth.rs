//! Who is calling. Until staff sign-in lands, every API route needs `Authorization: Bearer` with a
//! token from `tavla token create`; the webhook routes are authenticated by their signature.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use super::error::AppError;
use super::AppState;
use crate::access::{Capability, Role};
use crate::store::staff::StaffMember;

#[derive(Debug, Clone)]
pub struct Caller {
    pub staff: StaffMember,
    pub role: Role,
}

impl Caller {
    pub fn require(&self, capability: Capability) -> Result<(), AppError> {
        if self.role.can(capability) {
            Ok(())
        } else {
            Err(AppError::forbidden(format!(
                "the role {} does not include {}; ask an administrator if your work needs it",
                self.role.as_str(),
                serde_json::to_value(capability)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default()
                    .replace('_', " ")
            )))
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                AppError::unauthorized(
                    "send Authorization: Bearer <token>; an administrator creates one with `tavla token create --username NAME`",
                )
            })?;
        let token = header
            .strip_prefix("Bearer ")
            .map(str::trim)
            .filter(|t| !t.is_empty() && t.len() <= 200)
            .ok_or_else(|| {
                AppError::unauthorized("the Authorization header must be `Bearer <token>`")
            })?;
        let staff = state.store.staff_by_token(token).await?.ok_or_else(|| {
            AppError::unauthorized(
                "the token is not valid (revoked, or the account is disabled); ask for a new one",
            )
        })?;
        let role = Role::parse(&staff.role)
            .ok_or_else(|| AppError::internal(format!("staff {} has an unknown role", staff.id)))?;
        Ok(Caller { staff, role })
    }
}
