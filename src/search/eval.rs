//! Measuring search against a relevance set: queries, each with the messages a person would want
//! (graded 2: what they asked about, 1: closely related), as in `tests/data/search/`. The bench
//! (`cargo bench --bench search`) reports these figures for tavla and for PostgreSQL, and an API
//! test holds tavla to a floor.

/// One judged query.
#[derive(Debug, Clone)]
pub struct Judged {
    pub query: String,
    /// base, inflected, folded, typo, compound, synonym or multiword.
    pub variant: String,
    /// (message id in the corpus, grade 1 or 2).
    pub relevant: Vec<(i64, u8)>,
}

/// `queries.tsv`: a header, then `query<TAB>variant<TAB>id:grade,id:grade,…`.
pub fn parse_queries(tsv: &str) -> Vec<Judged> {
    tsv.lines()
        .skip(1)
        .filter_map(|line| {
            let mut cols = line.split('\t');
            let (query, variant, relevant) = (cols.next()?, cols.next()?, cols.next()?);
            let relevant = relevant
                .split(',')
                .filter_map(|pair| {
                    let (id, grade) = pair.split_once(':')?;
                    Some((id.parse().ok()?, grade.parse().ok()?))
                })
                .collect();
            Some(Judged {
                query: query.to_string(),
                variant: variant.to_string(),
                relevant,
            })
        })
        .collect()
}

/// `corpus.tsv`: a header, then `id<TAB>text`.
pub fn parse_corpus(tsv: &str) -> Vec<(i64, String)> {
    tsv.lines()
        .skip(1)
        .filter_map(|line| {
            let (id, text) = line.split_once('\t')?;
            Some((id.parse().ok()?, text.to_string()))
        })
        .collect()
}

/// `synonyms.txt`: one group a line, terms separated by `~`; `#` starts a comment.
pub fn parse_synonyms(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.split('~').map(|t| t.trim().to_string()).collect())
        .collect()
}

impl Judged {
    fn grade(&self, id: i64) -> u8 {
        self.relevant
            .iter()
            .find(|(r, _)| *r == id)
            .map_or(0, |(_, g)| *g)
    }

    /// The share of the messages asked about (grade 2) among the first `k` results, out of as
    /// many as fit in `k`. None when nothing was asked about.
    pub fn recall_at(&self, ranked: &[i64], k: usize) -> Option<f64> {
        let wanted = self.relevant.iter().filter(|(_, g)| *g == 2).count();
        if wanted == 0 {
            return None;
        }
        let found = ranked
            .iter()
            .take(k)
            .filter(|id| self.grade(**id) == 2)
            .count();
        Some(found as f64 / wanted.min(k) as f64)
    }

    /// Normalised discounted cumulative gain of the first `k` results, with the grades as gains.
    pub fn ndcg_at(&self, ranked: &[i64], k: usize) -> Option<f64> {
        let gain = |g: u8, i: usize| f64::from(g) / ((i + 2) as f64).log2();
        // (+ 0.0: an empty sum is -0.0.)
        let dcg: f64 = 0.0
            + ranked
                .iter()
                .take(k)
                .enumerate()
                .map(|(i, id)| gain(self.grade(*id), i))
                .sum::<f64>();
        let mut ideal: Vec<u8> = self.relevant.iter().map(|(_, g)| *g).collect();
        ideal.sort_unstable_by(|a, b| b.cmp(a));
        let best: f64 = ideal
            .iter()
            .take(k)
            .enumerate()
            .map(|(i, g)| gain(*g, i))
            .sum();
        (best > 0.0).then(|| dcg / best)
    }
}

/// Mean recall@20 and nDCG@10 over the queries, each with its ranked message ids.
pub fn means(judged: &[Judged], ranked: &[Vec<i64>]) -> (f64, f64) {
    let mean = |values: Vec<f64>| values.iter().sum::<f64>() / values.len().max(1) as f64;
    let recall = judged
        .iter()
        .zip(ranked)
        .filter_map(|(j, r)| j.recall_at(r, 20))
        .collect();
    let ndcg = judged
        .iter()
        .zip(ranked)
        .filter_map(|(j, r)| j.ndcg_at(r, 10))
        .collect();
    (mean(recall), mean(ndcg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recall_and_ndcg() {
        let j = &parse_queries("query\tvariant\trelevant\nsopor\tbase\t1:2,2:2,3:1\n")[0];
        assert_eq!(j.recall_at(&[1, 9, 2], 20), Some(1.0));
        assert_eq!(j.recall_at(&[9, 3], 20), Some(0.0));
        assert_eq!(j.ndcg_at(&[1, 2, 3], 10), Some(1.0));
        let worse = j.ndcg_at(&[3, 2, 1], 10).unwrap();
        assert!(worse < 1.0 && worse > 0.5, "{worse}");
        assert_eq!(means(std::slice::from_ref(j), &[vec![1, 2, 3]]), (1.0, 1.0));
    }
}
