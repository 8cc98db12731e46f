//! A stand-in for Meta's Graph API on 127.0.0.1:0, speaking its HTTP shape. A test scripts the
//! answers to the next POST/DELETE requests (success by default); every request is recorded with
//! its path, body and access token. What a success creates is remembered, so look-ups (GET of a
//! comment's replies or a person's conversation) find it, as they would on Meta.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

/// One scripted answer.
#[derive(Debug, Clone)]
pub enum Answer {
    /// Does it and answers `{"message_id"}`, `{"id"}` or `{"success": true}` as Meta does.
    Ok,
    /// 500 with Meta's "unexpected error" body; nothing done.
    ServerError,
    /// 429, with `Retry-After` seconds when given; nothing done.
    RateLimited(Option<u64>),
    /// A Meta error document with this HTTP status; nothing done.
    MetaError {
        status: u16,
        code: i64,
        subcode: Option<i64>,
        message: String,
    },
    /// Does it at once but answers only after the delay (a timeout that still arrived).
    Late(Duration),
    /// Does it and never answers (the caller dies or gives up first).
    Hold,
}

#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub body: Value,
    /// From `Authorization: Bearer`, or an `access_token` in the query or body.
    pub access_token: Option<String>,
    pub at: Instant,
}

#[derive(Debug, Clone)]
struct Created {
    /// The id in the path: the page (messages) or the comment (replies).
    target: String,
    recipient: Option<String>,
    text: String,
    id: String,
}

#[derive(Default)]
struct State {
    page: String,
    script: Mutex<VecDeque<Answer>>,
    requests: Mutex<Vec<Recorded>>,
    created: Mutex<Vec<Created>>,
    /// A delay before every answer, so concurrent senders overlap.
    pace: Mutex<Duration>,
}

#[derive(Clone)]
pub struct GraphStub {
    pub url: String,
    state: Arc<State>,
}

impl GraphStub {
    /// Serves as the Graph API for the page `page`.
    pub async fn start(page: &str) -> GraphStub {
        let state = Arc::new(State {
            page: page.to_string(),
            ..State::default()
        });
        let shared = state.clone();
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let state = shared.clone();
                async move { handle(state, method, uri, headers, body).await }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        GraphStub { url, state }
    }

    /// The answers to the next requests that change something, in order.
    pub fn script(&self, answers: impl IntoIterator<Item = Answer>) {
        self.state.script.lock().unwrap().extend(answers);
    }

    pub fn pace(&self, delay: Duration) {
        *self.state.pace.lock().unwrap() = delay;
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.requests.lock().unwrap().clone()
    }

    /// The requests that change something (everything but look-ups).
    pub fn changes(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.method != "GET")
            .collect()
    }
}

async fn handle(
    state: Arc<State>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string);
    let in_query = uri.query().and_then(|q| {
        q.split('&')
            .find_map(|kv| kv.strip_prefix("access_token="))
            .map(str::to_string)
    });
    let in_body = body["access_token"].as_str().map(str::to_string);
    let path = uri.path().to_string();
    state.requests.lock().unwrap().push(Recorded {
        method: method.to_string(),
        path: path.clone(),
        query: uri.query().map(str::to_string),
        body: body.clone(),
        access_token: bearer.or(in_query).or(in_body),
        at: Instant::now(),
    });
    if method == Method::GET {
        return look_up(&state, &path, uri.query().unwrap_or_default()).into_response();
    }
    let pace = *state.pace.lock().unwrap();
    if !pace.is_zero() {
        tokio::time::sleep(pace).await;
    }
    let answer = state
        .script
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or(Answer::Ok);
    match answer {
        Answer::Ok => create(&state, &path, &body),
        Answer::Late(delay) => {
            let done = create(&state, &path, &body);
            tokio::time::sleep(delay).await;
            done
        }
        Answer::Hold => {
            create(&state, &path, &body);
            std::future::pending::<()>().await;
            unreachable!()
        }
        Answer::ServerError => meta_error(
            500,
            2,
            None,
            "An unexpected error has occurred. Please retry your request later.",
        ),
        Answer::RateLimited(after) => {
            let mut response = meta_error(429, 4, None, "(#4) Application request limit reached");
            if let Some(seconds) = after {
                response
                    .headers_mut()
                    .insert("retry-after", seconds.to_string().parse().unwrap());
            }
            response
        }
        Answer::MetaError {
            status,
            code,
            subcode,
            message,
        } => meta_error(status, code, subcode, &message),
    }
}

fn meta_error(status: u16, code: i64, subcode: Option<i64>, message: &str) -> Response {
    let mut error = json!({"message": message, "type": "OAuthException", "code": code,
        "fbtrace_id": "AbCdEf123"});
    if let Some(subcode) = subcode {
        error["error_subcode"] = subcode.into();
    }
    (
        StatusCode::from_u16(status).unwrap(),
        axum::Json(json!({ "error": error })),
    )
        .into_response()
}

/// Carries out a POST or DELETE as Meta would and answers in its shape.
fn create(state: &State, path: &str, body: &Value) -> Response {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let mut created = state.created.lock().unwrap();
    let n = created.len() + 1;
    match segments.as_slice() {
        [page, "messages"] => {
            let id = format!("m_{n}");
            let recipient = body["recipient"]["id"]
                .as_str()
                .or(body["recipient"]["comment_id"].as_str())
                .map(str::to_string);
            created.push(Created {
                target: page.to_string(),
                recipient: recipient.clone(),
                text: body["message"]["text"].as_str().unwrap_or_default().into(),
                id: id.clone(),
            });
            axum::Json(json!({"recipient_id": recipient, "message_id": id})).into_response()
        }
        [comment, "comments" | "replies"] => {
            let id = format!("c_{n}");
            created.push(Created {
                target: comment.to_string(),
                recipient: None,
                text: body["message"].as_str().unwrap_or_default().into(),
                id: id.clone(),
            });
            axum::Json(json!({ "id": id })).into_response()
        }
        _ => axum::Json(json!({"success": true})).into_response(),
    }
}

/// `GET /{page}/conversations?user_id=…` and `GET /{comment}/comments|replies`.
fn look_up(state: &State, path: &str, query: &str) -> axum::Json<Value> {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let created = state.created.lock().unwrap();
    let from = json!({"id": state.page});
    match segments.as_slice() {
        [page, "conversations"] => {
            let user = query
                .split('&')
                .find_map(|kv| kv.strip_prefix("user_id="))
                .unwrap_or_default();
            let messages: Vec<Value> = created
                .iter()
                .rev()
                .filter(|c| c.target == *page && c.recipient.as_deref() == Some(user))
                .map(|c| json!({"id": c.id, "message": c.text, "from": from}))
                .collect();
            axum::Json(json!({"data": [{"id": "t_1", "messages": {"data": messages}}]}))
        }
        [comment, "comments" | "replies"] => {
            let replies: Vec<Value> = created
                .iter()
                .filter(|c| c.target == *comment)
                .map(|c| json!({"id": c.id, "message": c.text, "text": c.text, "from": from}))
                .collect();
            axum::Json(json!({ "data": replies }))
        }
        _ => axum::Json(json!({"data": []})),
    }
}
