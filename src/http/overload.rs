//! Overload protection: a flood of requests or streams is refused early and politely (503 or 429
//! with Retry-After, a detail that says to try again shortly) instead of queueing without bound
//! until memory or the database gives out. Each request goes through one lane, chosen by its
//! route:
//! - the API: a fixed number of places; a request waits briefly for one, then gets 503; once in,
//!   it must finish (body read, work done, answer ready) within the request timeout;
//! - the webhook: places of its own, so Meta's deliveries are never starved by an API flood; its
//!   body must arrive within the request timeout, but the durable write that follows is never cut
//!   (cutting it would only make Meta deliver again);
//! - the event stream: its setup takes an API place; the open stream then holds a stream slot
//!   (a few per person, a cap in all) until it ends, and no timeout applies to it;
//! - long jobs an administrator starts (a retention run): an API place, no timeout;
//! - the health check: never limited, so a load balancer sees a busy instance as alive.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::error::AppError;
use super::AppState;
use crate::settings::Settings;

/// Seconds a refused caller is asked to wait: long enough for a burst to pass, short enough
/// that a person does not notice much.
const RETRY_AFTER_BUSY: u64 = 2;
/// A person with too many streams: they must close a tab first, so no point asking again soon.
const RETRY_AFTER_OWN_STREAMS: u64 = 30;
/// The instance's streams are full: others end all the time (tabs close, sessions expire).
const RETRY_AFTER_STREAMS_FULL: u64 = 10;

pub struct Limits {
    api: Arc<Semaphore>,
    webhooks: Arc<Semaphore>,
    queue_wait: Duration,
    timeout: Duration,
    max_body_bytes: usize,
    pub streams: StreamSlots,
}

impl Limits {
    pub fn from_settings(settings: &Settings) -> Limits {
        Limits {
            api: Arc::new(Semaphore::new(settings.api_max_concurrent.max(1))),
            webhooks: Arc::new(Semaphore::new(settings.webhook_max_concurrent.max(1))),
            queue_wait: Duration::from_millis(settings.api_queue_wait_ms),
            timeout: Duration::from_secs(settings.request_timeout_seconds.max(1)),
            max_body_bytes: settings.max_body_bytes,
            streams: StreamSlots::new(
                settings.event_streams_per_person.max(1),
                settings.event_streams_max.max(1),
            ),
        }
    }

    /// A place in `lane`, waiting at most the queue wait for one.
    async fn place(&self, lane: &Arc<Semaphore>) -> Result<OwnedSemaphorePermit, AppError> {
        match tokio::time::timeout(self.queue_wait, lane.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(AppError::busy(
                "the service is busy right now; try again shortly",
                RETRY_AFTER_BUSY,
            )),
        }
    }

    fn timed_out(&self) -> AppError {
        AppError::busy(
            format!(
                "the request did not finish within {} seconds and was stopped (nothing was changed); try again shortly, and tell the administrator if it keeps happening",
                self.timeout.as_secs()
            ),
            RETRY_AFTER_BUSY,
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lane {
    Api,
    Webhook,
    Stream,
    Job,
    Health,
}

fn lane(route: &str) -> Lane {
    match route {
        "/webhooks/meta" => Lane::Webhook,
        "/api/v1/events" => Lane::Stream,
        "/api/v1/retention/runs" => Lane::Job,
        "/healthz" => Lane::Health,
        _ => Lane::Api,
    }
}

/// The middleware in front of every route (after routing, so the route pattern is known).
pub async fn admit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str())
        .unwrap_or("");
    let limits = &state.limits;
    let answer = match lane(route) {
        Lane::Health => Ok(next.run(request).await),
        // For a stream, the place is held while it is set up, not while it runs: the response
        // returns as soon as its head is ready, and the body streams on after.
        Lane::Stream | Lane::Job => match limits.place(&limits.api).await {
            Ok(_place) => Ok(next.run(request).await),
            Err(e) => Err(e),
        },
        Lane::Api => match limits.place(&limits.api).await {
            Ok(_place) => tokio::time::timeout(limits.timeout, next.run(request))
                .await
                .map_err(|_| limits.timed_out()),
            Err(e) => Err(e),
        },
        Lane::Webhook => match limits.place(&limits.webhooks).await {
            Ok(_place) => match body_in_time(limits, request).await {
                Ok(request) => Ok(next.run(request).await),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        },
    };
    answer.unwrap_or_else(IntoResponse::into_response)
}

/// Reads the whole body within the request timeout, so a sender that trickles it cannot hold a
/// place; the handler then reads it from memory.
async fn body_in_time(limits: &Limits, request: Request) -> Result<Request, AppError> {
    let (parts, body) = request.into_parts();
    match tokio::time::timeout(
        limits.timeout,
        axum::body::to_bytes(body, limits.max_body_bytes),
    )
    .await
    {
        Ok(Ok(bytes)) => Ok(Request::from_parts(parts, Body::from(bytes))),
        // Too large, or the connection broke (then nobody reads this answer).
        Ok(Err(_)) => Err(AppError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Body too large",
            "the body is larger than this service accepts (max_body_bytes); send fewer items per request",
        )),
        Err(_) => Err(limits.timed_out()),
    }
}

/// Places for live event streams: a few per person (console tabs) and a cap in all.
pub struct StreamSlots {
    per_person_max: usize,
    total: Arc<Semaphore>,
    open: Arc<Mutex<HashMap<i64, usize>>>,
}

/// One open stream's place; dropping it (the stream ended, or its client went away) frees it.
pub struct StreamSlot {
    _place: OwnedSemaphorePermit,
    person: i64,
    open: Arc<Mutex<HashMap<i64, usize>>>,
}

impl StreamSlots {
    fn new(per_person_max: usize, total: usize) -> StreamSlots {
        StreamSlots {
            per_person_max,
            total: Arc::new(Semaphore::new(total)),
            open: Arc::default(),
        }
    }

    /// A place for one more stream of `person`, or a refusal that says why and when to retry.
    pub fn take(&self, person: i64) -> Result<StreamSlot, AppError> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let theirs = open.get(&person).copied().unwrap_or(0);
        if theirs >= self.per_person_max {
            return Err(AppError {
                retry_after: Some(RETRY_AFTER_OWN_STREAMS),
                ..AppError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "Too many live streams",
                    format!(
                        "you already have {theirs} live update streams open (console tabs or windows); close one, then try again"
                    ),
                )
            });
        }
        let place = self.total.clone().try_acquire_owned().map_err(|_| {
            AppError::busy(
                "the service is serving as many live update streams as it can; try again shortly",
                RETRY_AFTER_STREAMS_FULL,
            )
        })?;
        open.insert(person, theirs + 1);
        Ok(StreamSlot {
            _place: place,
            person,
            open: self.open.clone(),
        })
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&self.person) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.person);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_slots_count_per_person_and_in_all_and_free_on_drop() {
        let slots = StreamSlots::new(2, 3);
        let a1 = slots.take(1).unwrap();
        let _a2 = slots.take(1).unwrap();
        assert_eq!(
            slots.take(1).err().unwrap().status,
            StatusCode::TOO_MANY_REQUESTS
        );
        let _b1 = slots.take(2).unwrap();
        let full = slots.take(2).err().unwrap();
        assert_eq!(full.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(full.retry_after.is_some());
        drop(a1);
        let _a3 = slots.take(1).unwrap();
        assert_eq!(slots.open.lock().unwrap()[&1], 2);
    }

    #[test]
    fn every_route_has_a_lane() {
        assert_eq!(lane("/webhooks/meta"), Lane::Webhook);
        assert_eq!(lane("/api/v1/events"), Lane::Stream);
        assert_eq!(lane("/api/v1/retention/runs"), Lane::Job);
        assert_eq!(lane("/healthz"), Lane::Health);
        assert_eq!(lane("/api/v1/conversations/{id}"), Lane::Api);
        assert_eq!(lane(""), Lane::Api);
    }
}
