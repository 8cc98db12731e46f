//! Search: a tantivy index derived from the store. The indexer follows the event log by sequence
//! and records the last sequence it applied in each commit, so a restart catches up; a lost or
//! damaged index is set aside and rebuilt from the store (`healing`), never mourned.

pub mod eval;
pub mod healing;
pub mod indexer;
pub mod near;
pub mod query;
pub mod snippet;
pub mod synonyms;

use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;

use tantivy::schema::{
    Field, IndexRecordOption, NumericOptions, Schema, TextFieldIndexing, TextOptions, STRING,
};
use tantivy::tokenizer::{
    Language as StemLanguage, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer,
    StopWordFilter, TextAnalyzer, Token, TokenFilter, TokenStream, Tokenizer, WhitespaceTokenizer,
};
use tantivy::{doc, Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

pub use crate::store::search::IndexedMessage;
use crate::text::{self, Language};
pub use healing::{Rebuilding, SearchIndex};

/// The fields of one indexed message.
#[derive(Clone, Copy)]
pub struct Fields {
    pub message_id: Field,
    pub conversation_id: Field,
    pub channel_id: Field,
    pub author_id: Field,
    pub time: Field,
    pub attachments: Field,
    pub platform: Field,
    pub kind: Field,
    pub direction: Field,
    pub status: Field,
    pub state: Field,
    /// Triage's severity, S0 when not flagged.
    pub severity: Field,
    /// Swedish text as the keys of its words (`text::swedish::key`), without stop words.
    pub sv: Field,
    /// English text, stemmed, without stop words.
    pub en: Field,
    /// Every word as written (lowercased), with positions for phrases and prefixes.
    pub words: Field,
    /// Words with å, ä, ö (and other accents) folded, so a query typed without them still finds;
    /// beside them the folded keys of Swedish words (`text::swedish::folded_key`).
    pub folded: Field,
    /// Leading and trailing parts of long words (Swedish compounds), folded.
    pub parts: Field,
}

/// One index folder, opened: what searches read and the indexer writes. `SearchIndex` holds the
/// one in use and replaces it when it is damaged.
pub struct OpenIndex {
    pub index: Index,
    pub reader: IndexReader,
    pub writer: Mutex<IndexWriter>,
    pub fields: Fields,
    /// Smallest index (in messages) whose segments a search reads side by side
    /// (`query::SIDE_BY_SIDE_FROM_DOCS`; tests lower it to read a small index that way).
    side_by_side_from: u64,
    /// Near spellings of query words already found, by segment (`near`).
    pub(crate) near: near::NearSpellings,
    /// No message with a higher id is in the index, committed or waiting in the writer.
    highest_id: AtomicI64,
}

/// The highest message id in a committed index (deleted ones included: the ids of the
/// segments as written), 0 for an empty one.
fn highest_id(reader: &IndexReader) -> anyhow::Result<i64> {
    let mut highest = 0;
    for segment in reader.searcher().segment_readers() {
        if segment.max_doc() > 0 {
            highest = highest.max(segment.fast_fields().u64("message_id")?.max_value() as i64);
        }
    }
    Ok(highest)
}

/// What goes into the index, beyond its schema: raised when the rules change so that an index
/// built under the old ones is rebuilt at start. 2: S5 words are left out (metadata only).
/// 3: Swedish words by their keys (`text::swedish`), compound parts folded and with key parts.
/// 4: a word's own keys are no longer among its compound parts.
const CONTENT_VERSION: &str = "4";
const CONTENT_VERSION_FILE: &str = "tavla-content-version";

/// Words of this many bytes or more are left out of the index (a URL's remains, a run of
/// letters): no query word can find them, and no near spelling is looked up for a word that long.
pub(crate) const WORD_BYTES_LIMIT: usize = 48;

/// Memory the writer may use before it flushes a segment.
const WRITER_HEAP: usize = 64 * 1024 * 1024;
/// Most threads one search's segments are read on (the machine's cores, up to this).
const MAX_SEARCH_THREADS: usize = 4;

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let id = NumericOptions::default().set_indexed().set_fast();
    let indexed = NumericOptions::default().set_indexed();
    let text = |tokenizer: &str, positions: bool| {
        TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(tokenizer)
                .set_index_option(if positions {
                    IndexRecordOption::WithFreqsAndPositions
                } else {
                    IndexRecordOption::WithFreqs
                }),
        )
    };
    let fields = Fields {
        message_id: b.add_u64_field("message_id", id.clone()),
        conversation_id: b.add_u64_field("conversation_id", id.clone()),
        channel_id: b.add_u64_field("channel_id", indexed.clone()),
        author_id: b.add_u64_field("author_id", indexed.clone()),
        time: b.add_i64_field("time", id),
        attachments: b.add_u64_field("attachments", indexed),
        platform: b.add_text_field("platform", STRING),
        kind: b.add_text_field("kind", STRING),
        direction: b.add_text_field("direction", STRING),
        status: b.add_text_field("status", STRING),
        state: b.add_text_field("state", STRING),
        severity: b.add_text_field("severity", STRING),
        sv: b.add_text_field("sv", text("tavla_sv_forms", true)),
        en: b.add_text_field("en", text("tavla_en", true)),
        words: b.add_text_field("words", text("tavla_words", true)),
        folded: b.add_text_field("folded", text("tavla_folded", false)),
        parts: b.add_text_field("parts", text("tavla_parts", false)),
    };
    (b.build(), fields)
}

/// Replaces each token by its Swedish key (`text::swedish::key`): `förskolor` → `förskol`.
#[derive(Clone)]
struct SwedishForms;

impl TokenFilter for SwedishForms {
    type Tokenizer<T: Tokenizer> = SwedishFormsFilter<T>;

    fn transform<T: Tokenizer>(self, inner: T) -> SwedishFormsFilter<T> {
        SwedishFormsFilter { inner }
    }
}

#[derive(Clone)]
struct SwedishFormsFilter<T> {
    inner: T,
}

impl<T: Tokenizer> Tokenizer for SwedishFormsFilter<T> {
    type TokenStream<'a> = SwedishFormsStream<T::TokenStream<'a>>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        SwedishFormsStream {
            tail: self.inner.token_stream(text),
        }
    }
}

struct SwedishFormsStream<T> {
    tail: T,
}

impl<T: TokenStream> TokenStream for SwedishFormsStream<T> {
    fn advance(&mut self) -> bool {
        if !self.tail.advance() {
            return false;
        }
        let token = self.tail.token_mut();
        token.text = text::swedish::key(&token.text);
        true
    }

    fn token(&self) -> &Token {
        self.tail.token()
    }

    fn token_mut(&mut self) -> &mut Token {
        self.tail.token_mut()
    }
}

fn register_tokenizers(index: &Index) {
    let manager = index.tokenizers();
    // Swedish: tavla's own forms (a name of its own, so an index stemmed by Snowball is rebuilt).
    manager.register(
        "tavla_sv_forms",
        TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(RemoveLongFilter::limit(WORD_BYTES_LIMIT))
            .filter(LowerCaser)
            .filter(
                StopWordFilter::new(StemLanguage::Swedish).expect("tantivy has stop words for sv"),
            )
            .filter(SwedishForms)
            .build(),
    );
    manager.register(
        "tavla_en",
        TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(RemoveLongFilter::limit(WORD_BYTES_LIMIT))
            .filter(LowerCaser)
            .filter(
                StopWordFilter::new(StemLanguage::English).expect("tantivy has stop words for en"),
            )
            .filter(Stemmer::new(StemLanguage::English))
            .build(),
    );
    manager.register(
        "tavla_words",
        TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(RemoveLongFilter::limit(WORD_BYTES_LIMIT))
            .filter(LowerCaser)
            .build(),
    );
    // Folded words and folded Swedish keys, computed by `document` and joined by spaces.
    manager.register(
        "tavla_folded",
        TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(RemoveLongFilter::limit(WORD_BYTES_LIMIT))
            .filter(LowerCaser)
            .build(),
    );
    // Parts are computed by `text::compound_parts` and joined by spaces.
    manager.register(
        "tavla_parts",
        TextAnalyzer::builder(WhitespaceTokenizer::default()).build(),
    );
}

impl OpenIndex {
    /// Opens the index in `dir`, creating it when missing. Fails on damage (see `check`).
    pub fn open(dir: &Path) -> anyhow::Result<OpenIndex> {
        std::fs::create_dir_all(dir).map_err(|e| {
            anyhow::anyhow!(
                "cannot create the search index folder {}: {e}",
                dir.display()
            )
        })?;
        let (schema, fields) = schema();
        let directory = tantivy::directory::MmapDirectory::open(dir)?;
        let mut index = Index::open_or_create(directory, schema.clone())?;
        let version_file = dir.join(CONTENT_VERSION_FILE);
        let built_for = std::fs::read_to_string(&version_file).unwrap_or_default();
        let fresh = index.searchable_segment_ids()?.is_empty();
        if index.schema() != schema || (built_for.trim() != CONTENT_VERSION && !fresh) {
            // The index is derived data: one built by another version (another schema, or other
            // rules for what goes in) is dropped and rebuilt from the store by the follower.
            tracing::warn!(dir = %dir.display(), "the search index was built by another version of tavla; rebuilding it");
            drop(index);
            std::fs::remove_dir_all(dir)?;
            std::fs::create_dir_all(dir)?;
            let directory = tantivy::directory::MmapDirectory::open(dir)?;
            index = Index::create(directory, schema.clone(), tantivy::IndexSettings::default())?;
        }
        std::fs::write(&version_file, CONTENT_VERSION)?;
        register_tokenizers(&index);
        // A large index's segments are read side by side, one per core (`executor_for`): a
        // frequent word over a million messages reads half a million postings, and searches
        // mostly come one at a time.
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        if cores > 1 {
            index.set_multithread_executor(cores.min(MAX_SEARCH_THREADS))?;
        }
        // One indexing thread: the follower commits a few times a second, and each thread
        // writes a segment of its own per commit (twice the segments to merge, for nothing).
        let writer = index
            .writer_with_num_threads(1, WRITER_HEAP)
            .map_err(|e| match e {
                tantivy::TantivyError::LockFailure(..) => anyhow::anyhow!(
                    "the search index in {} is in use by another tavla process; stop it first",
                    dir.display()
                ),
                other => other.into(),
            })?;
        let reader: IndexReader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        let highest_id = highest_id(&reader)?;
        Ok(OpenIndex {
            index,
            reader,
            writer: Mutex::new(writer),
            fields,
            side_by_side_from: query::SIDE_BY_SIDE_FROM_DOCS,
            near: near::NearSpellings::default(),
            highest_id: AtomicI64::new(highest_id),
        })
    }

    /// A quick check that every segment can be read: opening the reader has opened each
    /// segment's files (and checked their footers); this also opens the parts a search touches
    /// first (the ids, the word dictionary). A full checksum would read the whole index.
    pub fn check(&self) -> anyhow::Result<()> {
        let searcher = self.reader.searcher();
        for segment in searcher.segment_readers() {
            segment.fast_fields().u64("message_id")?;
            segment.inverted_index(self.fields.words)?;
        }
        self.index.load_metas()?;
        Ok(())
    }

    /// The last event sequence whose effects are in the committed index.
    pub fn indexed_seq(&self) -> i64 {
        self.index
            .load_metas()
            .ok()
            .and_then(|m| m.payload)
            .and_then(|p| p.parse().ok())
            .unwrap_or(0)
    }

    /// Builds the document of one message.
    pub fn document(&self, m: &IndexedMessage) -> TantivyDocument {
        let f = &self.fields;
        let normalised = text::normalise(m.text.as_deref().unwrap_or(""));
        let language = text::detect_language(&normalised);
        let mut folded = String::with_capacity(2 * normalised.len());
        let mut parts = String::new();
        for w in text::words(&normalised) {
            let folded_word = text::fold(w);
            folded.push_str(&folded_word);
            folded.push(' ');
            // Worked out once a word, for the folded keys and the compound parts both.
            let keys = if language == Language::Swedish || text::is_compound_candidate(w) {
                text::swedish::folded_keys(w)
            } else {
                Vec::new()
            };
            if language == Language::Swedish {
                // Keys folded too, so `forskola` typed without ö finds `förskolan`.
                for key in &keys {
                    if *key != folded_word {
                        folded.push_str(key);
                        folded.push(' ');
                    }
                }
            }
            text::each_compound_part(w, &keys, |p| {
                parts.push_str(p);
                parts.push(' ');
            });
        }
        let mut d = doc!(
            f.message_id => m.id as u64,
            f.conversation_id => m.conversation_id as u64,
            f.channel_id => m.channel_id as u64,
            f.time => m.platform_time,
            f.attachments => m.has_attachments as u64,
            f.platform => m.platform.as_str(),
            f.kind => m.kind.as_str(),
            f.direction => m.direction.as_str(),
            f.status => m.status.as_str(),
            f.state => m.state.as_str(),
            f.severity => m.severity.as_deref().unwrap_or("S0"),
            f.words => normalised.as_str(),
            f.folded => folded,
            f.parts => parts,
        );
        if let Some(author) = m.author_id {
            d.add_u64(f.author_id, author as u64);
        }
        match language {
            Language::Swedish => d.add_text(f.sv, &normalised),
            Language::English => d.add_text(f.en, &normalised),
        }
        d
    }

    /// Replaces (or removes, when `message` is None) one message in the uncommitted index.
    pub fn put(
        &self,
        writer: &IndexWriter,
        id: i64,
        message: Option<&IndexedMessage>,
    ) -> anyhow::Result<()> {
        // A message above every id the index has held cannot be in it, and that is every new
        // message: a delete is looked up in each segment when the writer applies it (about 4 %
        // of the service's CPU under sustained ingest, measured at stop 36), so only messages
        // the index may hold are deleted first.
        if id <= self.highest_id.load(Ordering::Acquire) {
            writer.delete_term(Term::from_field_u64(self.fields.message_id, id as u64));
        }
        if let Some(m) = message {
            self.add(writer, m)?;
        }
        Ok(())
    }

    /// Adds a message the uncommitted index does not hold (a rebuild's pages, or after `put`'s
    /// delete).
    pub fn add(&self, writer: &IndexWriter, m: &IndexedMessage) -> anyhow::Result<()> {
        writer.add_document(self.document(m))?;
        self.highest_id.fetch_max(m.id, Ordering::AcqRel);
        Ok(())
    }

    /// Commits with the last applied sequence and makes the result visible to searches.
    pub fn commit(&self, writer: &mut IndexWriter, seq: i64) -> anyhow::Result<()> {
        let mut prepared = writer.prepare_commit()?;
        prepared.set_payload(&seq.to_string());
        prepared.commit()?;
        self.reader.reload()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::search::IndexedMessage;

    fn message(id: i64, text: &str) -> IndexedMessage {
        IndexedMessage {
            id,
            conversation_id: 1,
            channel_id: 1,
            author_id: None,
            platform: "facebook".into(),
            kind: "comments".into(),
            direction: "inbound".into(),
            status: "open".into(),
            state: "visible".into(),
            text: Some(text.into()),
            platform_time: 0,
            has_attachments: false,
            severity: None,
        }
    }

    fn documents(dir: &Path) -> u64 {
        let open = OpenIndex::open(dir).unwrap();
        open.reader.reload().unwrap();
        open.reader.searcher().num_docs()
    }

    #[test]
    fn a_message_put_again_is_replaced_whether_committed_before_a_restart_or_waiting() {
        let dir = tempfile::tempdir().unwrap();
        // The ids of the messages in the committed index, once per document.
        let ids = |open: &OpenIndex| -> Vec<u64> {
            open.reader.reload().unwrap();
            let mut ids: Vec<u64> = Vec::new();
            for segment in open.reader.searcher().segment_readers() {
                let column = segment.fast_fields().u64("message_id").unwrap();
                ids.extend(segment.doc_ids_alive().filter_map(|doc| column.first(doc)));
            }
            ids.sort_unstable();
            ids
        };
        {
            let open = OpenIndex::open(dir.path()).unwrap();
            let mut writer = open.writer.lock().unwrap();
            open.put(&writer, 7, Some(&message(7, "första"))).unwrap();
            open.put(&writer, 3, Some(&message(3, "tredje"))).unwrap();
            // Put again before the commit: replaced, not doubled.
            open.put(&writer, 7, Some(&message(7, "ändrad"))).unwrap();
            open.commit(&mut writer, 1).unwrap();
            drop(writer);
            assert_eq!(ids(&open), vec![3, 7]);
        }
        // After a restart the index knows the ids it holds: an edit of one of them, an older
        // message arriving late and a new one are each there once.
        let open = OpenIndex::open(dir.path()).unwrap();
        let mut writer = open.writer.lock().unwrap();
        open.put(&writer, 7, Some(&message(7, "ändrad igen")))
            .unwrap();
        open.put(&writer, 3, Some(&message(3, "tredje igen")))
            .unwrap();
        open.put(&writer, 5, Some(&message(5, "sent"))).unwrap();
        open.put(&writer, 9, Some(&message(9, "ny"))).unwrap();
        open.put(&writer, 9, Some(&message(9, "ny, ändrad")))
            .unwrap();
        open.commit(&mut writer, 2).unwrap();
        drop(writer);
        assert_eq!(ids(&open), vec![3, 5, 7, 9]);
        let mut writer = open.writer.lock().unwrap();
        open.put(&writer, 5, None).unwrap();
        open.commit(&mut writer, 3).unwrap();
        drop(writer);
        assert_eq!(ids(&open), vec![3, 7, 9]);
    }

    #[test]
    fn an_index_built_under_other_content_rules_is_rebuilt_and_a_new_one_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        {
            let open = OpenIndex::open(dir.path()).unwrap();
            let mut writer = open.writer.lock().unwrap();
            open.put(&writer, 1, Some(&message(1, "Hej på er")))
                .unwrap();
            open.commit(&mut writer, 1).unwrap();
        }
        assert_eq!(documents(dir.path()), 1, "this version's index is kept");
        // As an index written before the content rules had a version (S5 words indexed).
        std::fs::remove_file(dir.path().join(CONTENT_VERSION_FILE)).unwrap();
        assert_eq!(
            documents(dir.path()),
            0,
            "set aside, to be rebuilt from the store"
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join(CONTENT_VERSION_FILE)).unwrap(),
            CONTENT_VERSION
        );
    }
}
