//! Reading a channel's own posts and their insights from the Graph API, with the channel's page
//! access token (the file delivery reads, `outbound::token`), sent in the `Authorization`
//! header, never in a URL we build.
//!
//! - Facebook: `GET /{page-id}/posts` (fields id, message, created_time, permalink_url,
//!   status_type, shares) and `GET /{post-id}/insights?metric=…` (post_impressions_unique,
//!   post_impressions, post_clicks, post_clicks_by_type, post_reactions_by_type_total,
//!   post_video_views).
//! - Instagram: `GET /{ig-user-id}/media` (fields id, caption, media_type, media_product_type,
//!   timestamp, permalink) and `GET /{media-id}/insights?metric=reach,views,total_interactions,likes,shares`;
//!   stories (live for 24 hours, so each refresh keeps what they reached) from
//!   `GET /{ig-user-id}/stories` (the same fields) with
//!   `GET /{media-id}/insights?metric=reach,replies,navigation,views,shares,total_interactions`, and
//!   `metric=navigation&breakdown=story_navigation_action_type` for taps forward and back, exits and
//!   swipes forward (`total_value.breakdowns[].results[]`). A story with too few viewers has no
//!   insights (code 10): its figures are absent.
//!
//! Lists follow `paging.next`, but only to the Graph base URL (a link elsewhere would carry the
//! token away). A metric the platform does not know for a post (error code 100) is asked for
//! alone, and the ones refused are left out; a metric missing from the answer is just absent.
//! A revoked token (code 190) and rate limiting (codes 4, 17, 32, 613 or HTTP 429) stop the
//! channel's fetch with what to do. Insights are aggregates: nothing names a person.

use std::time::Duration;

use serde_json::Value;

use crate::outbound::token::PageToken;
use crate::platform::meta::Cause;
use crate::store::posts::{FetchChannel, FetchedPost};

/// Pages of a list read at most per fetch (50 posts a page).
pub const MAX_PAGES: usize = 20;

/// Why a channel's fetch stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchError {
    /// The token is no longer valid (code 190): an administrator must renew it.
    TokenRevoked,
    /// The platform asks us to wait; try again after this long.
    RateLimited(Duration),
    /// Anything else, in plain words.
    Failed(String),
}

impl FetchError {
    pub fn describe(&self, platform: &str) -> String {
        let name = crate::platform::meta::platform_name(platform);
        match self {
            FetchError::TokenRevoked => format!(
                "{name} says the channel's access token is no longer valid: ask an administrator to \
                 renew it (tavla channel add --access-token-file FILE), then refresh again"
            ),
            FetchError::RateLimited(wait) => format!(
                "{name} asks tavla to wait before reading more (rate limited); tavla tries again after {} minutes",
                wait.as_secs().div_ceil(60)
            ),
            FetchError::Failed(why) => why.clone(),
        }
    }
}

/// How long to wait after rate limiting when the platform does not say.
pub const DEFAULT_BACKOFF: Duration = Duration::from_secs(15 * 60);

/// What one fetch of a channel found, and which figures the platform would not give.
#[derive(Debug, Default)]
pub struct Fetched {
    pub posts: Vec<FetchedPost>,
    /// "metric for post id", for what the platform refused or left out.
    pub missing: Vec<String>,
}

pub struct Graph<'a> {
    pub client: &'a reqwest::Client,
    /// Without a trailing slash.
    pub base: &'a str,
    pub token: &'a PageToken,
}

struct Answer {
    status: u16,
    retry_after: Option<Duration>,
    body: Value,
}

/// Platform ids go into URL paths: anything but an id is refused.
fn id_segment(id: &str) -> Result<&str, FetchError> {
    if !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        Ok(id)
    } else {
        Err(FetchError::Failed(format!(
            "the platform id {id:?} is not an id, so nothing was fetched for it; tell an administrator"
        )))
    }
}

/// Seconds of an ISO-8601 time as Meta writes it (`2026-11-02T09:15:00+0000`), in milliseconds.
pub fn parse_time(text: &str) -> Option<i64> {
    chrono::DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%z")
        .or_else(|_| chrono::DateTime::parse_from_rfc3339(text))
        .ok()
        .map(|t| t.timestamp_millis())
}

impl Graph<'_> {
    async fn get(&self, url: &str) -> Result<Answer, FetchError> {
        let response = self
            .client
            .get(url)
            .bearer_auth(self.token.expose())
            .send()
            .await
            .map_err(|e| {
                FetchError::Failed(self.token.redact(&format!(
                    "the platform could not be reached ({}); tavla tries again at the next refresh",
                    e.without_url()
                )))
            })?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let bytes = response.bytes().await.map_err(|e| {
            FetchError::Failed(format!(
                "the platform's answer broke off ({}); tavla tries again at the next refresh",
                e.without_url()
            ))
        })?;
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok(Answer {
            status,
            retry_after,
            body,
        })
    }

    /// A failed answer's meaning for the whole channel, or None when it concerns only what was
    /// asked (a metric, one post).
    fn channel_error(answer: &Answer) -> Option<FetchError> {
        match Cause::of(answer.status, &answer.body) {
            Cause::TokenInvalid => Some(FetchError::TokenRevoked),
            Cause::RateLimited => Some(FetchError::RateLimited(
                answer.retry_after.unwrap_or(DEFAULT_BACKOFF),
            )),
            _ => None,
        }
    }

    fn said(answer: &Answer) -> String {
        let message = answer.body["error"]["message"]
            .as_str()
            .map(|m| m.chars().take(200).collect::<String>())
            .unwrap_or_default();
        format!("HTTP {}: {message:?}", answer.status)
    }

    /// Whether `next` may be followed: it points into the Graph base URL.
    fn follows(&self, next: &str) -> bool {
        next.strip_prefix(self.base)
            .is_some_and(|rest| rest.starts_with('/') || rest.starts_with('?'))
    }

    /// The channel's posts published at or after `since` (ms), newest first as the platform lists
    /// them, with their figures now.
    pub async fn fetch(&self, channel: &FetchChannel, since: i64) -> Result<Fetched, FetchError> {
        let owner = id_segment(&channel.platform_id)?;
        let instagram = channel.platform == "instagram";
        let mut url = if instagram {
            format!(
                "{}/{owner}/media?fields=id,caption,media_type,media_product_type,timestamp,permalink&limit=50",
                self.base
            )
        } else {
            format!(
                "{}/{owner}/posts?fields=id,message,created_time,permalink_url,status_type,shares&limit=50&since={}",
                self.base,
                since.div_euclid(1000)
            )
        };
        let mut fetched = Fetched::default();
        'pages: for _ in 0..MAX_PAGES {
            let answer = self.get(&url).await?;
            if !(200..300).contains(&answer.status) {
                return Err(Self::channel_error(&answer).unwrap_or_else(|| {
                    FetchError::Failed(format!(
                        "the platform refused to list the channel's posts ({}); ask an administrator \
                         to check the channel's permissions",
                        Self::said(&answer)
                    ))
                }));
            }
            for item in answer.body["data"].as_array().into_iter().flatten() {
                let Some(post) = parse_post(item, instagram) else {
                    continue;
                };
                if post.platform_time.is_some_and(|t| t < since) {
                    // Lists come newest first: the rest are older still.
                    break 'pages;
                }
                fetched.posts.push(post);
            }
            match answer.body["paging"]["next"].as_str() {
                Some(next) if self.follows(next) => url = next.to_string(),
                Some(_) => {
                    fetched
                        .missing
                        .push("later pages (the platform's next link pointed elsewhere)".into());
                    break;
                }
                None => break,
            }
        }
        if instagram {
            self.stories(owner, &mut fetched).await?;
        }
        for post in &mut fetched.posts {
            self.insights(post, instagram, &mut fetched.missing).await?;
        }
        Ok(fetched)
    }

    /// The Instagram account's live stories (up to a day old), added to what was fetched.
    async fn stories(&self, owner: &str, fetched: &mut Fetched) -> Result<(), FetchError> {
        let mut url = format!(
            "{}/{owner}/stories?fields=id,caption,media_type,media_product_type,timestamp,permalink&limit=50",
            self.base
        );
        for _ in 0..MAX_PAGES {
            let answer = self.get(&url).await?;
            if !(200..300).contains(&answer.status) {
                if let Some(e) = Self::channel_error(&answer) {
                    return Err(e);
                }
                // The feed's posts were read; only the stories are missing.
                fetched
                    .missing
                    .push(format!("stories ({})", Self::said(&answer)));
                return Ok(());
            }
            for item in answer.body["data"].as_array().into_iter().flatten() {
                if let Some(mut story) = parse_post(item, true) {
                    story.post_type = Some("story".into());
                    if !fetched
                        .posts
                        .iter()
                        .any(|p| p.platform_id == story.platform_id)
                    {
                        fetched.posts.push(story);
                    }
                }
            }
            match answer.body["paging"]["next"].as_str() {
                Some(next) if self.follows(next) => url = next.to_string(),
                _ => break,
            }
        }
        Ok(())
    }

    /// Adds the post's figures; records the ones the platform would not give.
    async fn insights(
        &self,
        post: &mut FetchedPost,
        instagram: bool,
        missing: &mut Vec<String>,
    ) -> Result<(), FetchError> {
        let id = id_segment(&post.platform_id)?.to_string();
        let story = instagram && post.post_type.as_deref() == Some("story");
        let metrics: &[&str] = if story {
            &STORY_METRICS
        } else if instagram {
            &INSTAGRAM_METRICS
        } else {
            &FACEBOOK_METRICS
        };
        let answer = self.insight_answer(&id, &metrics.join(",")).await?;
        let mut data: Vec<Value> = Vec::new();
        match answer {
            Ok(items) => data.extend(items),
            Err(Some(100)) => {
                // One metric the platform does not know for this post refuses the lot: ask
                // for each alone and leave out the ones refused.
                for metric in metrics {
                    match self.insight_answer(&id, metric).await? {
                        Ok(items) => data.extend(items),
                        Err(_) => missing.push(format!("{metric} for {id}")),
                    }
                }
            }
            Err(_) => {
                missing.push(format!("insights for {id}"));
                return Ok(());
            }
        }
        let mut figures = if instagram {
            instagram_figures(&data, post.post_type.as_deref())
        } else {
            facebook_figures(&data)
        };
        if story {
            // How viewers moved on: asked with its breakdown, which only this metric takes.
            match self
                .insight_answer(&id, "navigation&breakdown=story_navigation_action_type")
                .await?
            {
                Ok(items) => figures.extend(navigation_figures(&items)),
                Err(_) => missing.push(format!("navigation by action for {id}")),
            }
        }
        // A metric absent from the answer (no data yet, not for this kind of post) is just
        // not measured this time: no figure, no zero.
        for (name, value) in figures {
            if !post.figures.iter().any(|(n, _)| *n == name) {
                post.figures.push((name, value));
            }
        }
        Ok(())
    }

    /// The insight items, or the error code when the request was refused for this post alone.
    async fn insight_answer(
        &self,
        id: &str,
        metrics: &str,
    ) -> Result<Result<Vec<Value>, Option<i64>>, FetchError> {
        let answer = self
            .get(&format!("{}/{id}/insights?metric={metrics}", self.base))
            .await?;
        if (200..300).contains(&answer.status) {
            return Ok(Ok(answer.body["data"]
                .as_array()
                .cloned()
                .unwrap_or_default()));
        }
        if let Some(e) = Self::channel_error(&answer) {
            return Err(e);
        }
        Ok(Err(answer.body["error"]["code"].as_i64()))
    }
}

pub const FACEBOOK_METRICS: [&str; 6] = [
    "post_impressions_unique",
    "post_impressions",
    "post_clicks",
    "post_clicks_by_type",
    "post_reactions_by_type_total",
    "post_video_views",
];

pub const INSTAGRAM_METRICS: [&str; 5] =
    ["reach", "views", "total_interactions", "likes", "shares"];

/// A story's metrics (replies are private messages in answer, counted, never read here).
pub const STORY_METRICS: [&str; 6] = [
    "reach",
    "replies",
    "navigation",
    "views",
    "shares",
    "total_interactions",
];

/// The navigation metric's breakdown by action: tap_forward, tap_back, tap_exit and
/// swipe_forward, as taps_forward, taps_back, exits and swipes_forward.
pub fn navigation_figures(data: &[Value]) -> Vec<(String, i64)> {
    let mut out = Vec::new();
    for item in data.iter().filter(|i| i["name"] == "navigation") {
        let breakdowns = item["total_value"]["breakdowns"].as_array();
        for result in breakdowns
            .into_iter()
            .flatten()
            .flat_map(|b| b["results"].as_array().into_iter().flatten())
        {
            let action = result["dimension_values"][0].as_str().unwrap_or_default();
            let name = match action {
                "tap_forward" => "taps_forward",
                "tap_back" => "taps_back",
                "tap_exit" => "exits",
                "swipe_forward" => "swipes_forward",
                _ => continue,
            };
            if let Some(v) = number(&result["value"]) {
                out.push((name.to_string(), v));
            }
        }
    }
    out
}

fn parse_post(item: &Value, instagram: bool) -> Option<FetchedPost> {
    let id = item["id"].as_str()?.to_string();
    let bounded = |v: &Value| {
        v.as_str().map(|t| {
            t.chars()
                .take(crate::posts::POST_TEXT_MAX)
                .collect::<String>()
        })
    };
    let mut post = if instagram {
        let kind = match (
            item["media_product_type"].as_str(),
            item["media_type"].as_str(),
        ) {
            (Some("REELS"), _) => "reel",
            (Some("STORY"), _) => "story",
            (_, Some("VIDEO")) => "video",
            (_, Some("CAROUSEL_ALBUM")) => "carousel",
            (_, Some("IMAGE")) => "image",
            _ => "media",
        };
        FetchedPost {
            platform_id: id,
            text: bounded(&item["caption"]),
            post_type: Some(kind.to_string()),
            permalink: item["permalink"].as_str().map(str::to_string),
            platform_time: item["timestamp"].as_str().and_then(parse_time),
            figures: Vec::new(),
        }
    } else {
        FetchedPost {
            platform_id: id,
            text: bounded(&item["message"]),
            post_type: item["status_type"]
                .as_str()
                .map(|t| t.chars().take(40).collect()),
            permalink: item["permalink_url"].as_str().map(str::to_string),
            platform_time: item["created_time"].as_str().and_then(parse_time),
            figures: Vec::new(),
        }
    };
    if let Some(shares) = item["shares"]["count"].as_i64() {
        post.figures.push(("shares".into(), shares));
    }
    post.permalink = post
        .permalink
        .filter(|p| p.starts_with("https://") && p.len() <= 500);
    Some(post)
}

/// The lifetime value of one insight item: a number, or the sum of an object's numbers
/// (reactions by type, clicks by type).
fn value_of(item: &Value) -> Option<&Value> {
    match item["values"].as_array() {
        Some(values) => values.last().map(|v| &v["value"]),
        // Newer metrics answer with a total instead of a list of values.
        None => item.get("total_value").map(|t| &t["value"]),
    }
}

fn number(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| v.as_f64().map(|f| f as i64))
}

pub fn facebook_figures(data: &[Value]) -> Vec<(String, i64)> {
    let mut out = Vec::new();
    for item in data {
        let Some(value) = value_of(item) else {
            continue;
        };
        let name = item["name"].as_str().unwrap_or_default();
        let figure = match name {
            "post_impressions_unique" => number(value).map(|v| ("reach", v)),
            "post_impressions" => number(value).map(|v| ("impressions", v)),
            "post_clicks" => number(value).map(|v| ("engagements", v)),
            "post_clicks_by_type" => {
                Some(("link_clicks", number(&value["link clicks"]).unwrap_or(0)))
            }
            "post_reactions_by_type_total" => value
                .as_object()
                .map(|o| ("reactions", o.values().filter_map(number).sum())),
            "post_video_views" => number(value).map(|v| ("video_views", v)),
            _ => None,
        };
        if let Some((n, v)) = figure {
            out.push((n.to_string(), v));
        }
    }
    out
}

pub fn instagram_figures(data: &[Value], post_type: Option<&str>) -> Vec<(String, i64)> {
    let video = matches!(post_type, Some("reel" | "video"));
    let mut out = Vec::new();
    for item in data {
        let Some(value) = value_of(item).and_then(number) else {
            continue;
        };
        let name = match item["name"].as_str().unwrap_or_default() {
            "reach" => "reach",
            "views" if video => "video_views",
            "views" => "impressions",
            "total_interactions" => "engagements",
            "likes" => "reactions",
            "shares" => "shares",
            "replies" => "replies",
            "navigation" => "navigation",
            _ => continue,
        };
        out.push((name.to_string(), value));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn facebook_insights_become_figures() {
        let data = vec![
            json!({"name": "post_impressions_unique", "period": "lifetime", "values": [{"value": 120}]}),
            json!({"name": "post_reactions_by_type_total", "period": "lifetime", "values": [{"value": {"like": 5, "love": 2}}]}),
            json!({"name": "post_clicks_by_type", "period": "lifetime", "values": [{"value": {"link clicks": 9, "other clicks": 4}}]}),
        ];
        let figures = facebook_figures(&data);
        assert!(figures.contains(&("reach".into(), 120)));
        assert!(figures.contains(&("reactions".into(), 7)));
        assert!(figures.contains(&("link_clicks".into(), 9)));
    }

    #[test]
    fn instagram_views_are_video_views_on_reels() {
        let data = vec![json!({"name": "views", "values": [{"value": 40}]})];
        assert_eq!(
            instagram_figures(&data, Some("reel")),
            vec![("video_views".into(), 40)]
        );
        assert_eq!(
            instagram_figures(&data, Some("image")),
            vec![("impressions".into(), 40)]
        );
    }

    #[test]
    fn a_storys_navigation_is_broken_down_by_action() {
        let data = vec![json!({"name": "navigation", "period": "lifetime",
            "total_value": {"value": 30, "breakdowns": [{"dimension_keys": ["story_navigation_action_type"],
            "results": [{"dimension_values": ["tap_forward"], "value": 20},
                        {"dimension_values": ["tap_exit"], "value": 7},
                        {"dimension_values": ["swipe_forward"], "value": 3}]}]},
            "id": "x/insights/navigation/lifetime"})];
        assert_eq!(
            navigation_figures(&data),
            vec![
                ("taps_forward".into(), 20),
                ("exits".into(), 7),
                ("swipes_forward".into(), 3)
            ]
        );
        assert_eq!(
            instagram_figures(&data, Some("story")),
            vec![("navigation".into(), 30)]
        );
    }

    #[test]
    fn meta_times_parse() {
        assert_eq!(parse_time("1970-01-01T00:00:01+0000"), Some(1000));
        assert_eq!(parse_time("1970-01-01T00:00:01Z"), Some(1000));
        assert_eq!(parse_time("yesterday"), None);
    }

    #[test]
    fn ids_cannot_steer_a_request() {
        assert!(id_segment("123_456").is_ok());
        for bad in ["", "../me", "1?x=1", "1#", "a/b"] {
            assert!(id_segment(bad).is_err(), "{bad}");
        }
    }
}
