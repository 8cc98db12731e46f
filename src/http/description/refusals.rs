//! The refusals many operations share, named for typed operations to reference
//! (`(status = 400, response = BadRequest)`). Their words, headers and examples are the shared
//! responses of `openapi.json` (`components.responses`): prose about the service's settings that
//! no type carries. A name here without its response there fails
//! `access::every_reference_resolves`.

use utoipa::openapi::{RefOr, Response};

macro_rules! shared_refusals {
    ($($name:ident),* $(,)?) => {
        $(
            pub struct $name;

            impl<'r> utoipa::ToResponse<'r> for $name {
                fn response() -> (&'r str, RefOr<Response>) {
                    (stringify!($name), Response::new(stringify!($name)).into())
                }
            }
        )*
    };
}

shared_refusals!(
    BadRequest,
    NotFound,
    Conflict,
    Duplicate,
    PayloadTooLarge,
    UnsupportedMediaType,
    UnprocessableContent,
    ServiceUnavailable,
    TooManySignIns,
    PasswordCheckBusy,
    InternalError,
    Unauthorized,
    Forbidden,
);
