//! The API description served at `/api/v1/openapi.json`, derived from the code.
//!
//! Three sources, applied in order:
//! 1. the typed handlers: `#[utoipa::path]` on a handler and `ToSchema` on its request and answer
//!    types, gathered from each HTTP module's `Doc` in [`typed`];
//! 2. `openapi.json` beside the HTTP modules, for what is not typed yet (the document's prose
//!    parts, shared responses and parameters, operations still built with `json!`): it shrinks as
//!    handlers are typed, and a typed operation replaces its hand-written one whole;
//! 3. the route table: every operation's `x-access`, its security schemes, its access paragraph
//!    and the refusals every caller can meet (401, 403, 500) are written from the route's rule
//!    and the shipped training config, so they cannot drift from what the server checks.
//!
//! The tests in `tests/api/access.rs` hold the document to the route table both ways, and
//! schemathesis (`tests/api/api_description.rs`) holds the service to the document.

mod access_text;
pub mod refusals;

use std::sync::OnceLock;

use axum::http::Method;
use serde_json::{json, Map, Value};
use utoipa::openapi::extensions::Extensions;
use utoipa::openapi::{RefOr, Schema};
use utoipa::OpenApi;

use super::{RouteSpec, Rule};
use crate::access::training::TrainingConfig;

/// The document as served, composed once per process.
pub fn served() -> &'static str {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| {
        serde_json::to_string_pretty(&document()).expect("the API description serialises")
    })
}

/// The whole description, composed from the three sources.
pub fn document() -> Value {
    let mut doc: Value = serde_json::from_str(include_str!("../openapi.json"))
        .expect("src/http/openapi.json is JSON (a test reads it on every run)");
    for part in typed() {
        let mut part = serde_json::to_value(part).expect("the typed description serialises");
        unwrap_prose(&mut part);
        overlay(&mut doc, part);
    }
    let training = TrainingConfig::built_in();
    let introduction = doc["info"]["description"].as_str().unwrap_or_default();
    doc["info"]["description"] = json!(introduction.replace(
        "{roles_and_training}",
        &access_text::roles_and_training(&training)
    ));
    write_blank_rules(&mut doc);
    for (spec, _) in super::routes() {
        if !is_api(&spec) {
            continue;
        }
        let method = spec.method.as_str().to_lowercase();
        if let Some(operation) = doc["paths"]
            .get_mut(spec.path)
            .and_then(|item| item.get_mut(&method))
        {
            write_access(operation, &spec, &training);
        }
    }
    doc
}

/// The console's page and files are not API.
fn is_api(spec: &RouteSpec) -> bool {
    spec.path != "/" && !spec.path.starts_with("/static/")
}

/// The typed part: each HTTP module that has typed handlers contributes its `Doc`. (Kept apart
/// rather than merged: utoipa's merge keeps only the first module's operations on a shared path.)
fn typed() -> Vec<utoipa::openapi::OpenApi> {
    vec![
        super::audit::Doc::openapi(),
        super::notes::Doc::openapi(),
        super::staff::Doc::openapi(),
        super::session::Doc::openapi(),
        super::system::Doc::openapi(),
        super::channels::Doc::openapi(),
        super::conversations::Doc::openapi(),
        super::handover::Doc::openapi(),
        super::saved_replies::Doc::openapi(),
        super::deliveries::Doc::openapi(),
        super::messages::Doc::openapi(),
        super::moderation::Doc::openapi(),
        super::privacy::Doc::openapi(),
        super::synonyms::Doc::openapi(),
        super::faq::Doc::openapi(),
        super::reports::Doc::openapi(),
        super::campaigns::Doc::openapi(),
        super::posts::Doc::openapi(),
        super::categories::Doc::openapi(),
        super::webhooks::Doc::openapi(),
        super::csp::Doc::openapi(),
        super::oidc::Doc::openapi(),
        super::search::Doc::openapi(),
        super::events::Doc::openapi(),
    ]
}

/// A derived object schema with a rule across its fields that utoipa's attributes cannot state
/// (`anyOf` of `required`s, `not`): the members of `rule`, a JSON Schema object, are added to the
/// schema beside its derived ones (as extensions, which serialise flat), so the type keeps
/// describing its fields and the rule is said once, next to it.
pub fn with_rule(schema: RefOr<Schema>, rule: Value) -> RefOr<Schema> {
    let (RefOr::T(Schema::Object(mut object)), Value::Object(members)) = (schema, rule) else {
        unreachable!("a rule is a JSON object, laid on a derived object schema")
    };
    object
        .extensions
        .get_or_insert_with(Extensions::default)
        .extend(members);
    RefOr::T(Schema::Object(object))
}

/// Doc comments arrive wrapped at the source's line width; in the description a paragraph is
/// one line, as Markdown readers and client generators expect. Blank lines, list items and
/// indented lines keep their breaks.
fn unwrap_prose(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                match item {
                    Value::String(text) if key == "description" || key == "summary" => {
                        *text = unwrap_lines(text);
                    }
                    _ => unwrap_prose(item),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(unwrap_prose),
        _ => {}
    }
}

fn unwrap_lines(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut lines = text.lines().peekable();
    // Within a fenced code block (```) every line keeps its break.
    let mut fenced = false;
    while let Some(line) = lines.next() {
        out.push_str(line);
        let fence = line.starts_with("```");
        fenced ^= fence;
        let Some(next) = lines.peek() else { break };
        let keeps_break = fenced
            || fence
            || next.starts_with("```")
            || line.trim().is_empty()
            || next.trim().is_empty()
            || next.starts_with(' ')
            || ["- ", "* ", "| "].iter().any(|m| next.starts_with(m))
            || next
                .split_once(". ")
                .is_some_and(|(n, _)| n.parse::<u32>().is_ok());
        out.push(if keeps_break { '\n' } else { ' ' });
    }
    out
}

/// The characters `str::trim` takes away (Unicode's White_Space), as ranges: what the service
/// means by a blank text.
const WHITESPACE: [(char, char); 10] = [
    ('\u{9}', '\u{d}'),
    (' ', ' '),
    ('\u{85}', '\u{85}'),
    ('\u{a0}', '\u{a0}'),
    ('\u{1680}', '\u{1680}'),
    ('\u{2000}', '\u{200a}'),
    ('\u{2028}', '\u{2029}'),
    ('\u{202f}', '\u{202f}'),
    ('\u{205f}', '\u{205f}'),
    ('\u{3000}', '\u{3000}'),
];

/// [`WHITESPACE`] as a regular expression's character class, in `\uXXXX` escapes that
/// ECMA-262, Python and Rust read alike.
fn blank_class() -> String {
    let ranges: String = WHITESPACE
        .iter()
        .map(|&(from, to)| match from == to {
            true => format!("\\u{:04x}", from as u32),
            false => format!("\\u{:04x}-\\u{:04x}", from as u32, to as u32),
        })
        .collect();
    format!("[{ranges}]")
}

/// A pattern's `\S` ("not blank"; utoipa takes only a literal, so typed parts write that) and
/// the hand-written `{blank}` / `{not_blank}` become the service's own whitespace. Validators
/// differ on `\s`: ECMA-262's lacks U+0085, which `trim` takes away (schemathesis sent a legal
/// hold's reason of spaces and U+0085 as valid); Python's has U+001C to U+001F, which it keeps.
fn write_blank_rules(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                match item {
                    Value::String(pattern) if key == "pattern" => {
                        let blank = blank_class();
                        let not_blank = blank.replacen('[', "[^", 1);
                        *pattern = match pattern.as_str() {
                            "\\S" => not_blank,
                            _ => pattern
                                .replace("{not_blank}", &not_blank)
                                .replace("{blank}", &blank),
                        };
                    }
                    _ => write_blank_rules(item),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(write_blank_rules),
        _ => {}
    }
}

/// A typed operation replaces the hand-written one at its path and method; a typed schema the
/// hand-written schema of its name.
fn overlay(doc: &mut Value, typed: Value) {
    if let Some(paths) = typed.get("paths").and_then(Value::as_object) {
        for (path, item) in paths {
            let target = object_at(&mut doc["paths"], path);
            for (method, operation) in item.as_object().into_iter().flatten() {
                target.insert(method.clone(), operation.clone());
            }
        }
    }
    if let Some(schemas) = typed
        .pointer("/components/schemas")
        .and_then(Value::as_object)
    {
        let target = object_at(&mut doc["components"], "schemas");
        for (name, schema) in schemas {
            target.insert(name.clone(), schema.clone());
        }
    }
}

fn object_at<'a>(parent: &'a mut Value, key: &str) -> &'a mut Map<String, Value> {
    let slot = parent
        .as_object_mut()
        .expect("the description's containers are objects")
        .entry(key.to_string())
        .or_insert_with(|| json!({}));
    slot.as_object_mut().expect("an object")
}

/// The rule's part of an operation: `x-access`, security, the access paragraph (the
/// operation's own words after `**Access:**` kept, as what it asks beyond the rule) and the
/// refusals the rule itself can give.
fn write_access(operation: &mut Value, spec: &RouteSpec, training: &TrainingConfig) {
    let change = spec.method != Method::GET;
    let (rule, capabilities) = match spec.rule {
        Rule::Public => ("public", vec![]),
        Rule::SignedIn => ("signed_in", vec![]),
        Rule::Needs(c) => ("needs", vec![c.as_str()]),
        Rule::AnyOf(cs) => ("any_of", cs.iter().map(|c| c.as_str()).collect()),
    };
    operation["x-access"] = json!({"rule": rule, "capabilities": capabilities});
    operation["security"] = match (&spec.rule, change) {
        (Rule::Public, _) => json!([]),
        (_, false) => json!([{"bearer": []}, {"cookie": []}]),
        (_, true) => json!([{"bearer": []}, {"cookie": [], "csrf": []}]),
    };
    let description = operation["description"].as_str().unwrap_or_default();
    let (own, further) = match description.split_once("**Access:**") {
        Some((own, further)) => (own.trim_end(), further.trim()),
        None => (description.trim_end(), ""),
    };
    let access = access_text::paragraph(&spec.rule, change, further, training);
    operation["description"] = if own.is_empty() {
        json!(format!("**Access:** {access}"))
    } else {
        json!(format!("{own}\n\n**Access:** {access}"))
    };
    let responses = object_at(operation, "responses");
    let mut refusal = |status: &str, name: &str| {
        responses
            .entry(status.to_string())
            .or_insert_with(|| json!({"$ref": format!("#/components/responses/{name}")}));
    };
    match (&spec.rule, change) {
        (Rule::Public, _) => return,
        (Rule::SignedIn, true) => refusal("403", "CsrfRefused"),
        (Rule::SignedIn, false) => {}
        (_, true) => refusal("403", "ForbiddenChange"),
        (_, false) => refusal("403", "Forbidden"),
    }
    refusal("401", "Unauthorized");
    refusal("500", "InternalError");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A typed operation or schema replaces the hand-written one of its name whole, so a
    /// hand-written copy left behind is dead text that reads as if it counted: the hand-written
    /// remainder must only shrink.
    #[test]
    fn the_hand_written_remainder_holds_nothing_a_typed_part_replaces() {
        let hand: Value = serde_json::from_str(include_str!("../openapi.json")).unwrap();
        let mut left = Vec::new();
        for part in typed() {
            let part = serde_json::to_value(part).unwrap();
            for (path, item) in part["paths"].as_object().into_iter().flatten() {
                for method in item.as_object().into_iter().flatten().map(|(m, _)| m) {
                    if hand["paths"][path].get(method).is_some() {
                        left.push(format!("paths.{path}.{method}"));
                    }
                }
            }
            let schemas = part
                .pointer("/components/schemas")
                .and_then(Value::as_object);
            for name in schemas.into_iter().flatten().map(|(n, _)| n) {
                if hand["components"]["schemas"].get(name).is_some() {
                    left.push(format!("components.schemas.{name}"));
                }
            }
        }
        left.sort();
        left.dedup();
        assert!(
            left.is_empty(),
            "typed, and still hand-written in src/http/openapi.json: {left:?}"
        );
    }

    #[test]
    fn blank_is_what_trim_takes_away() {
        let listed: Vec<char> = WHITESPACE
            .iter()
            .flat_map(|&(from, to)| from..=to)
            .collect();
        let trimmed: Vec<char> = (0..=0x10ffff)
            .filter_map(char::from_u32)
            .filter(|c| c.is_whitespace())
            .collect();
        assert_eq!(listed, trimmed);
        assert!(blank_class().starts_with("[\\u0009-\\u000d\\u0020\\u0085"));
    }

    #[test]
    fn no_pattern_is_served_with_a_validator_dependent_blank() {
        let served = served();
        for left in ["\"pattern\": \"\\\\S\"", "{blank}", "{not_blank}"] {
            assert!(
                !served.contains(left),
                "{left} left in the served description"
            );
        }
    }

    #[test]
    fn paragraphs_become_one_line_and_lists_keep_their_breaks() {
        assert_eq!(
            unwrap_lines("one\ntwo\n\nthree\n- a\n- b\n1. c"),
            "one two\n\nthree\n- a\n- b\n1. c"
        );
        assert_eq!(
            unwrap_lines("see:\n\n```\nid: 1\nevent: x\n```\nafter\nit"),
            "see:\n\n```\nid: 1\nevent: x\n```\nafter it"
        );
    }
}
