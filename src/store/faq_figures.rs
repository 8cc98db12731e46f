//! FAQ figures counted in the store: per cluster, the questions of a window and of the window
//! before it, the distinct people who asked, where, and over all time. The FAQ state keeps only
//! a window of the newest questions in memory (issue 17: memory that does not grow with the
//! store), so a period reaching further back is counted here, from the stored placements, and
//! comes out the same as if every question were held.
//!
//! Questions count where the FAQ state places them: a communicator's move first, else the
//! stored placement after consolidation's merges, then communicators' merges (passed in,
//! resolved, since chains are followed in the caller).

use std::collections::HashMap;

use futures::TryStreamExt;
use sqlx::Row;

use super::{Marks, Result, Store};

/// What to count: two half-open windows `[from, to)` of `platform_time`, the caller's channel
/// limit (None: every channel), and the curation that decides where questions count.
pub struct FigureRequest<'a> {
    pub window: (i64, i64),
    pub previous: (i64, i64),
    pub channels: Option<&'a [i64]>,
    /// Communicators' merges, each cluster to where its questions count in the end.
    pub merged: &'a HashMap<i64, i64>,
    /// When each cluster (where questions count in the end) was marked answered.
    pub answered: &'a HashMap<i64, i64>,
}

/// One cluster's stored figures. Counts are within the channel limit; `first` is the earliest
/// question placed in the cluster on any channel.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredFigures {
    pub cluster: i64,
    pub count: i64,
    pub previous: i64,
    pub people: i64,
    pub total: i64,
    pub after_answer: i64,
    pub first: i64,
    /// Channels asked on in the window, ascending.
    pub channels: Vec<i64>,
    /// The posts most asked under in the window (then by id), at most five, with how many
    /// questions each.
    pub posts: Vec<(String, i64)>,
}

/// Posts kept for a cluster's figures: the five most asked under, then by id.
const TOP_POSTS: usize = 5;

/// Keeps `post` among the `TOP_POSTS` most asked under (ties by id).
fn keep_top_posts(posts: &mut Vec<(String, i64)>, post: String, n: i64) {
    let before = |a: &(String, i64), b: &(String, i64)| (b.1, &a.0) < (a.1, &b.0);
    let candidate = (post, n);
    let at = posts
        .iter()
        .position(|kept| before(&candidate, kept))
        .unwrap_or(posts.len());
    if at < TOP_POSTS {
        posts.insert(at, candidate);
        posts.truncate(TOP_POSTS);
    }
}

/// SQL text with its parameters (all integers), marked for the store's engine in the order
/// they are written.
struct Bound {
    marks: Marks,
    sql: String,
    values: Vec<i64>,
}

impl Bound {
    fn new(marks: Marks) -> Bound {
        Bound {
            marks,
            sql: String::new(),
            values: Vec::new(),
        }
    }

    fn text(&mut self, s: &str) -> &mut Bound {
        self.sql.push_str(s);
        self
    }

    fn value(&mut self, v: i64) -> &mut Bound {
        self.values.push(v);
        self.marks.mark(self.values.len(), &mut self.sql);
        self
    }

    /// `case {expr} when k then v … else {otherwise} end`, or `otherwise` for an empty map.
    fn lookup(&mut self, expr: &str, map: &HashMap<i64, i64>, otherwise: &str) -> &mut Bound {
        if map.is_empty() {
            return self.text(otherwise);
        }
        let mut pairs: Vec<(i64, i64)> = map.iter().map(|(k, v)| (*k, *v)).collect();
        pairs.sort_unstable();
        self.text("case ").text(expr);
        for (k, v) in pairs {
            self.text(" when ").value(k).text(" then ").value(v);
        }
        self.text(" else ").text(otherwise).text(" end")
    }

    /// `{column} >= from and {column} < to`: within a half-open window.
    fn between(&mut self, column: &str, (from, to): (i64, i64)) -> &mut Bound {
        self.text(column).text(" >= ").value(from);
        self.text(" and ").text(column).text(" < ").value(to)
    }

    /// `{column} in (…)`, true without a limit and false for an empty one.
    fn within(&mut self, column: &str, channels: Option<&[i64]>) -> &mut Bound {
        match channels {
            None => self.text("1 = 1"),
            Some([]) => self.text("1 = 0"),
            Some(list) => {
                self.text(column).text(" in (");
                for (i, c) in list.iter().enumerate() {
                    if i > 0 {
                        self.text(", ");
                    }
                    self.value(*c);
                }
                self.text(")")
            }
        }
    }

    /// Questions (`t`, in `cluster`) asked after their cluster was answered, those meeting
    /// `condition` (ending in `and `) only.
    fn after_answer(&mut self, condition: &str, answered: &HashMap<i64, i64>) -> &mut Bound {
        if answered.is_empty() {
            return self.text("0");
        }
        self.text("sum(case when ").text(condition).text("t > (");
        self.lookup("cluster", answered, "null");
        self.text(") then 1 else 0 end)")
    }

    fn query(&self) -> sqlx::query::Query<'_, sqlx::Any, sqlx::any::AnyArguments<'_>> {
        let mut q = sqlx::query(&self.sql);
        for v in &self.values {
            q = q.bind(*v);
        }
        q
    }
}

/// Where a stored question counts before communicators' merges: moved, else its placement
/// after consolidation's merges (stored as where each chain ends).
const PLACED: &str = "coalesce(mv.cluster_id, cm.into_id, f.cluster_id)";

/// The stored placements, each carrying when, where and by whom its question was asked
/// (`asked_at`, `channel_id`, `post_id`, `author_id`), so counting them looks up no message.
const PLACEMENTS: &str = "faq_members f \
     left join faq_moves mv on mv.message_id = f.message_id \
     left join faq_cluster_merges cm on cm.from_id = f.cluster_id";

/// A placement counts only with its question's time: one whose message was erased before
/// migration 0041 filled the times in has none (its own event removes it).
const ASKED: &str = "f.asked_at is not null";

impl Store {
    /// The figures of every cluster with a stored question in either window (and, with
    /// `all_time`, of every cluster with a stored question), counted as [`FigureRequest`] says.
    /// Without `all_time`, `total`, `after_answer` and `first` are left at zero: the caller
    /// knows them already, and they are the part that reads every stored question.
    pub async fn faq_figures(
        &self,
        r: &FigureRequest<'_>,
        all_time: bool,
    ) -> Result<Vec<StoredFigures>> {
        let marks = Marks::of_backend(self.backend);
        let mut out: HashMap<i64, StoredFigures> = HashMap::new();
        if all_time {
            let mut totals = Bound::new(marks);
            totals.text("with q as (select ");
            totals.lookup(PLACED, r.merged, PLACED);
            totals.text(" as cluster, f.asked_at as t, case when ");
            totals.within("f.channel_id", r.channels);
            totals
                .text(" then 1 else 0 end as s from ")
                .text(PLACEMENTS)
                .text(" where ")
                .text(ASKED);
            totals.text(") select cluster, sum(s) as total, ");
            totals.after_answer("s = 1 and ", r.answered);
            totals.text(" as after_answer, min(t) as first from q group by cluster");
            for row in totals.query().fetch_all(&self.pool).await? {
                let cluster: i64 = row.try_get("cluster")?;
                out.insert(
                    cluster,
                    StoredFigures {
                        cluster,
                        total: row.try_get("total")?,
                        after_answer: row.try_get("after_answer")?,
                        first: row.try_get("first")?,
                        ..StoredFigures::default()
                    },
                );
            }
        }
        // The windows read only the placements asked within them (by `faq_members_asked_at`).
        let (from, to) = (r.window.0.min(r.previous.0), r.window.1.max(r.previous.1));
        let mut periods = Bound::new(marks);
        periods.text("with q as (select ");
        periods.lookup(PLACED, r.merged, PLACED);
        periods.text(" as cluster, f.asked_at as t, coalesce(f.author_id, 0) as author from ");
        periods.text(PLACEMENTS).text(" where ");
        periods.between("f.asked_at", (from, to)).text(" and ");
        periods.within("f.channel_id", r.channels);
        periods.text(") select cluster, sum(case when ");
        periods.between("t", r.window);
        periods.text(" then 1 else 0 end) as n_window, sum(case when ");
        periods.between("t", r.previous);
        periods.text(" then 1 else 0 end) as n_previous, count(distinct case when ");
        periods.between("t", r.window);
        periods.text(" then author end) as people from q group by cluster");
        for row in periods.query().fetch_all(&self.pool).await? {
            let cluster: i64 = row.try_get("cluster")?;
            let f = out.entry(cluster).or_insert_with(|| StoredFigures {
                cluster,
                ..StoredFigures::default()
            });
            f.count = row.try_get("n_window")?;
            f.previous = row.try_get("n_previous")?;
            f.people = row.try_get("people")?;
        }
        // Where they were asked in the window: per cluster, channel and post, only the rows
        // that name a channel first or one of the five posts most asked under (a store of
        // many posts holds clusters × posts of such rows). A post is known by its id on the
        // platform, on whichever channel (as the questions held in memory know it).
        let mut places = Bound::new(marks);
        places.text(
            "select cluster, channel, post, post_n, by_post from (select *, \
             dense_rank() over (partition by cluster order by post = '', post_n desc, post) \
             as by_post, row_number() over (partition by cluster, channel order by n desc) \
             as in_channel from (select *, cast(sum(n) over (partition by cluster, post) as bigint) \
             as post_n \
             from (select ",
        );
        places.lookup(PLACED, r.merged, PLACED);
        places.text(
            " as cluster, f.channel_id as channel, coalesce(p.platform_id, '') as post, \
             count(*) as n from ",
        );
        places
            .text(PLACEMENTS)
            .text(" left join posts p on p.id = f.post_id where ");
        places.between("f.asked_at", r.window).text(" and ");
        places.within("f.channel_id", r.channels);
        places.text(" group by 1, 2, 3) g) summed) ranked where in_channel = 1 or by_post <= ");
        places.value(TOP_POSTS as i64);
        let mut rows = places.query().fetch(&self.pool);
        while let Some(row) = rows.try_next().await? {
            let cluster: i64 = row.try_get("cluster")?;
            let Some(f) = out.get_mut(&cluster) else {
                continue;
            };
            let channel: i64 = row.try_get("channel")?;
            if let Err(at) = f.channels.binary_search(&channel) {
                f.channels.insert(at, channel);
            }
            let (post, n, by_post): (String, i64, i64) = (
                row.try_get("post")?,
                row.try_get("post_n")?,
                row.try_get("by_post")?,
            );
            // A post asked under on two channels comes once for each.
            let kept = f.posts.iter().any(|(p, _)| *p == post);
            if !post.is_empty() && by_post <= TOP_POSTS as i64 && !kept {
                keep_top_posts(&mut f.posts, post, n);
            }
        }
        let mut out: Vec<StoredFigures> = out.into_values().collect();
        out.sort_by_key(|f| f.cluster);
        Ok(out)
    }
}

impl Store {
    /// Fills in the time, channel, author and post of placements stored without them (by an
    /// instance of a release before migration 0041, during a rolling upgrade), so they count
    /// in the store's figures. Placements of erased messages stay without. Returns how many.
    pub async fn fill_in_placements(&self) -> Result<u64> {
        // Read first: this runs every second, and a write would wait for the writer.
        let unfilled: Option<i64> = sqlx::query_scalar(
            "select f.message_id from faq_members f join messages m on m.id = f.message_id \
             where f.asked_at is null limit 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        if unfilled.is_none() {
            return Ok(0);
        }
        let mut tx = self.begin().await?;
        let filled = sqlx::query(
            "update faq_members set \
             asked_at = (select m.platform_time from messages m where m.id = faq_members.message_id), \
             channel_id = (select m.channel_id from messages m where m.id = faq_members.message_id), \
             author_id = (select m.author_id from messages m where m.id = faq_members.message_id), \
             post_id = (select c.post_id from messages m join conversations c \
             on c.id = m.conversation_id where m.id = faq_members.message_id) \
             where asked_at is null \
             and exists (select 1 from messages m where m.id = faq_members.message_id)",
        )
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(filled)
    }
}

/// The forgotten questions' share of one cluster's figures on one channel: every question up to
/// a message id, counted where it counts now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForgottenPart {
    pub cluster: i64,
    pub channel: i64,
    pub total: i64,
    /// Asked after the cluster was marked answered.
    pub after_answer: i64,
    pub first: i64,
}

impl Store {
    /// Per cluster and channel, the stored questions up to message `up_to_id` (those the FAQ
    /// state no longer holds), placed and merged as [`Store::faq_figures`] places them.
    pub async fn faq_forgotten_figures(
        &self,
        up_to_id: i64,
        merged: &HashMap<i64, i64>,
        answered: &HashMap<i64, i64>,
    ) -> Result<Vec<ForgottenPart>> {
        let mut q = Bound::new(Marks::of_backend(self.backend));
        q.text("with q as (select ");
        q.lookup(PLACED, merged, PLACED);
        q.text(" as cluster, f.channel_id as channel, f.asked_at as t from ");
        q.text(PLACEMENTS)
            .text(" where ")
            .text(ASKED)
            .text(" and f.message_id <= ")
            .value(up_to_id);
        q.text(") select cluster, channel, count(*) as total, ");
        q.after_answer("", answered);
        q.text(" as after_answer, min(t) as first from q group by cluster, channel");
        let rows = q.query().fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok(ForgottenPart {
                    cluster: r.try_get("cluster")?,
                    channel: r.try_get("channel")?,
                    total: r.try_get("total")?,
                    after_answer: r.try_get("after_answer")?,
                    first: r.try_get("first")?,
                })
            })
            .collect()
    }

    /// Stored questions up to message `up_to_id` that count in one of `clusters` (before
    /// communicators' merges, which the caller resolved into the list), at most `limit`.
    pub async fn faq_forgotten_members(
        &self,
        clusters: &[i64],
        up_to_id: i64,
        limit: i64,
    ) -> Result<Vec<i64>> {
        if clusters.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = Bound::new(Marks::of_backend(self.backend));
        q.text("select f.message_id from ").text(PLACEMENTS);
        q.text(" where ").text(ASKED);
        q.text(" and f.message_id <= ").value(up_to_id);
        q.text(" and ").text(PLACED).text(" in (");
        for (i, c) in clusters.iter().enumerate() {
            if i > 0 {
                q.text(", ");
            }
            q.value(*c);
        }
        q.text(") order by f.message_id limit ").value(limit);
        let rows = q.query().fetch_all(&self.pool).await?;
        rows.iter().map(|r| Ok(r.try_get("message_id")?)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_five_posts_most_asked_under_are_kept_in_any_order_they_come() {
        let rows = [
            ("p1", 3),
            ("p2", 9),
            ("p3", 3),
            ("p4", 1),
            ("p0", 3),
            ("p5", 7),
            ("p6", 2),
            ("p7", 9),
        ];
        let mut expected: Vec<(String, i64)> =
            rows.iter().map(|(p, n)| (p.to_string(), *n)).collect();
        expected.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        expected.truncate(TOP_POSTS);
        for rotation in 0..rows.len() {
            let mut kept = Vec::new();
            for (p, n) in rows.iter().cycle().skip(rotation).take(rows.len()) {
                keep_top_posts(&mut kept, p.to_string(), *n);
            }
            assert_eq!(kept, expected, "rotation {rotation}");
        }
    }
}
