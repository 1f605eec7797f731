//! The hit log as reviewers read it: hits with their item, sources, delivery and triage,
//! filtered and paged; full-text search over the items that have hits; triage verdicts.

use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{OptionalExtension, params};

use super::outbox::{AlertRow, SourceRow};
use super::{Store, StoreError, from_unix, to_unix};

/// One indicator's record in the hit log, for the indicators page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndicatorSummary {
    pub indicator_id: String,
    pub hits_7: u64,
    pub hits_30: u64,
    pub hits_90: u64,
    pub last_hit: Option<DateTime<Utc>>,
    pub relevant: u64,
    pub false_positive: u64,
}

impl IndicatorSummary {
    /// Relevant among the judged hits; `None` before any verdict.
    pub fn precision(&self) -> Option<f64> {
        let judged = self.relevant + self.false_positive;
        (judged > 0).then(|| self.relevant as f64 / judged as f64)
    }
}

/// A reviewer's judgement of a hit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Relevant,
    FalsePositive,
    /// Another report of what an earlier hit already showed ([`Triage::duplicate_of`]): no
    /// judgement of the rule, so neither a positive nor a negative label.
    Duplicate,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Relevant => "relevant",
            Verdict::FalsePositive => "false_positive",
            Verdict::Duplicate => "duplicate",
        }
    }

    /// For people: "false positive" rather than the stored word.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Relevant => "relevant",
            Verdict::FalsePositive => "false positive",
            Verdict::Duplicate => "duplicate",
        }
    }

    pub fn parse(text: &str) -> Option<Verdict> {
        match text {
            "relevant" => Some(Verdict::Relevant),
            "false_positive" => Some(Verdict::FalsePositive),
            "duplicate" => Some(Verdict::Duplicate),
            _ => None,
        }
    }
}

/// Which hits by their triage.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TriageFilter {
    #[default]
    Any,
    Untriaged,
    Verdict(Verdict),
}

/// What the hit log shows: every field optional, newest first.
#[derive(Clone, Debug, PartialEq)]
pub struct HitFilter {
    pub indicator: Option<String>,
    /// Hits this feed produced, or whose story it reported (a feed that has since moved on
    /// to other text for an item still produced the hits on the text it had).
    pub feed: Option<String>,
    /// Recorded at or after.
    pub since: Option<DateTime<Utc>>,
    /// Recorded before.
    pub until: Option<DateTime<Utc>>,
    /// A search in the rule language (`store::search`): words, prefixes, phrases, `AND`,
    /// `OR`, `NOT`, `NEAR/n`, fields; several words must all occur.
    pub search: Option<String>,
    pub triage: TriageFilter,
    /// Leave out repeats ([`NOT_DUPLICATE_SQL`]): hits judged duplicates and hits story
    /// folding joined to an earlier report. The web list and the Atom feed do by default;
    /// exports keep every hit.
    pub skip_duplicates: bool,
    /// Only the hits listed after or before one hit, for stepping through a list hit by hit.
    pub around: Option<Around>,
    pub limit: usize,
    pub offset: usize,
}

impl Default for HitFilter {
    fn default() -> Self {
        HitFilter {
            indicator: None,
            feed: None,
            since: None,
            until: None,
            search: None,
            triage: TriageFilter::Any,
            skip_duplicates: false,
            around: None,
            limit: 50,
            offset: 0,
        }
    }
}

/// One hit's place in a list (its time and id), and which side of it to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Around {
    /// The hits listed after it (the list runs newest first).
    OlderThan(DateTime<Utc>, i64),
    /// The hits listed before it, read nearest first.
    NewerThan(DateTime<Utc>, i64),
}

/// A hit's current verdict: the latest of its history (`Store::verdict_history`).
#[derive(Clone, Debug, PartialEq)]
pub struct Triage {
    pub verdict: Verdict,
    pub note: String,
    pub at: DateTime<Utc>,
    /// Who gave it: `local`, a basic-auth user, `token`, or `unrecorded` for verdicts given
    /// before their history was kept.
    pub by: String,
    /// For a duplicate, the hit it repeats.
    pub duplicate_of: Option<i64>,
}

/// One hit of the log.
#[derive(Clone, Debug, PartialEq)]
pub struct HitRow {
    pub hit_id: i64,
    pub indicator_id: String,
    /// The feed through which the hit was found.
    pub feed_id: String,
    pub item_id: i64,
    pub title: String,
    pub link: Option<String>,
    pub published: Option<DateTime<Utc>>,
    pub first_seen: DateTime<Utc>,
    /// When the hit was recorded.
    pub created_at: DateTime<Utc>,
    pub score: f64,
    pub definition_hash: String,
    /// `poll` or `replay`.
    pub origin: String,
    /// The evidence, as JSON.
    pub evidence: String,
    /// Feed ids that reported the story, the hit's own feed first.
    pub sources: Vec<String>,
    /// The alerts' state: `failed` if any failed, else `pending` if any waits, else `sent`,
    /// else `folded`; `None` when the hit alerted nobody.
    pub alert_status: Option<String>,
    /// The item's language as stored: an ISO 639-1 code, `und` when its text did not say,
    /// `None` for items stored before languages were identified.
    pub lang: Option<String>,
    pub triage: Option<Triage>,
    /// Set when a replay found the rules in force no longer make this hit.
    pub retracted: Option<Retracted>,
    /// The story's first report, when story folding found this hit a later report of it.
    pub folded_into: Option<i64>,
}

/// When a replay retracted a hit, and by which version of the indicator's definition.
#[derive(Clone, Debug, PartialEq)]
pub struct Retracted {
    pub at: DateTime<Utc>,
    pub by: String,
}

impl HitRow {
    /// The language for display: the code, `und`, or `-` when never identified.
    pub fn lang_shown(&self) -> &str {
        self.lang.as_deref().unwrap_or("-")
    }

    /// The earlier hit this one repeats: the one a reviewer named as its original, else the
    /// story's first report it was folded into.
    pub fn repeats(&self) -> Option<i64> {
        self.triage
            .as_ref()
            .and_then(|t| t.duplicate_of)
            .or(self.folded_into)
    }
}

/// A hit with everything its page shows.
#[derive(Clone, Debug, PartialEq)]
pub struct HitDetail {
    pub row: HitRow,
    pub summary: String,
    pub content: String,
    pub authors: String,
    pub categories: String,
    pub sources: Vec<SourceRow>,
    pub deliveries: Vec<AlertRow>,
}

/// The hits that repeat one already in the log, which a reviewer's queue, the chart and a feed
/// reader should not show twice: later reports of a story folded into its first
/// (`alert::story`), and hits a reviewer judged a duplicate. A condition on `h` (a hit) and `t`
/// (its current verdict), so every reader of "not a duplicate" agrees.
pub const NOT_DUPLICATE_SQL: &str = "(h.story_id IS NULL AND t.verdict IS NOT 'duplicate')";

const HIT_SELECT: &str = "SELECT h.id, h.indicator_id, h.feed_id, h.item_id, i.title, i.link,
        i.published, i.first_seen, h.created_at, h.score, h.definition_hash, h.origin,
        h.evidence, t.verdict, t.note, t.at,
        (SELECT CASE
            WHEN SUM(a.status = 'failed') > 0 THEN 'failed'
            WHEN SUM(a.status = 'pending') > 0 THEN 'pending'
            WHEN SUM(a.status = 'sent') > 0 THEN 'sent'
            WHEN COUNT(*) > 0 THEN 'folded'
         END FROM alerts a WHERE a.hit_id = h.id),
        i.lang, h.retracted_at, h.retracted_by, t.reviewer, t.duplicate_of, h.story_id
     FROM hits h JOIN items i ON i.id = h.item_id LEFT JOIN triage t ON t.hit_id = h.id";

fn hit_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<HitRow> {
    let verdict: Option<String> = row.get(13)?;
    Ok(HitRow {
        hit_id: row.get(0)?,
        indicator_id: row.get(1)?,
        feed_id: row.get(2)?,
        item_id: row.get(3)?,
        title: row.get(4)?,
        link: row.get(5)?,
        published: row.get::<_, Option<i64>>(6)?.map(from_unix),
        first_seen: from_unix(row.get(7)?),
        created_at: from_unix(row.get(8)?),
        score: row.get(9)?,
        definition_hash: row.get(10)?,
        origin: row.get(11)?,
        evidence: row.get(12)?,
        sources: Vec::new(),
        alert_status: row.get(16)?,
        lang: row.get(17)?,
        retracted: match row.get::<_, Option<i64>>(18)? {
            Some(at) => Some(Retracted {
                at: from_unix(at),
                by: row.get::<_, Option<String>>(19)?.unwrap_or_default(),
            }),
            None => None,
        },
        triage: match verdict.as_deref().and_then(Verdict::parse) {
            Some(verdict) => Some(Triage {
                verdict,
                note: row.get(14)?,
                at: from_unix(row.get(15)?),
                by: row.get(20)?,
                duplicate_of: row.get(21)?,
            }),
            None => None,
        },
        folded_into: row.get(22)?,
    })
}

impl Store {
    /// One page of hits matching `filter`, newest first, and how many match in all.
    ///
    /// A page `around` a hit reads outward from it: [`Around::NewerThan`] nearest first (so
    /// oldest first), and without the count, which would cost a pass over that whole side of
    /// the list; its second value is then the page's length. Stepping to a neighbour reads
    /// one row whatever the list's size.
    pub fn hits_page(&self, filter: &HitFilter) -> Result<(Vec<HitRow>, u64), StoreError> {
        let search = match filter.search.as_deref() {
            Some(text) => super::search::fts_query(text)?,
            None => None,
        };
        let (triage_any, triage_none, verdict) = match filter.triage {
            TriageFilter::Any => (true, false, None),
            TriageFilter::Untriaged => (false, true, None),
            TriageFilter::Verdict(v) => (false, false, Some(v.as_str())),
        };
        let conditions = format!(
            "WHERE (?1 IS NULL OR h.indicator_id = ?1)
              AND (?2 IS NULL OR h.feed_id = ?2 OR EXISTS (SELECT 1 FROM item_sources s
                     WHERE s.feed_id = ?2 AND (s.item_id = h.item_id OR s.item_id IN
                       (SELECT item_id FROM hits WHERE story_id = h.id))))
              AND (?3 IS NULL OR h.created_at >= ?3)
              AND (?4 IS NULL OR h.created_at < ?4)
              AND (?5 IS NULL OR h.item_id IN
                     (SELECT rowid FROM hit_items_search WHERE hit_items_search MATCH ?5))
              AND (?6 OR (?7 AND t.verdict IS NULL) OR t.verdict = ?8)
              AND (?11 = 0 OR {NOT_DUPLICATE_SQL})"
        );
        let mut conditions = conditions;
        // Integers only, written into the statement: no text of the request reaches it.
        match filter.around {
            None => {}
            Some(Around::OlderThan(at, id)) => conditions.push_str(&format!(
                " AND (h.created_at < {at} OR (h.created_at = {at} AND h.id < {id}))",
                at = to_unix(at)
            )),
            Some(Around::NewerThan(at, id)) => conditions.push_str(&format!(
                " AND (h.created_at > {at} OR (h.created_at = {at} AND h.id > {id}))",
                at = to_unix(at)
            )),
        }
        // One list for both statements: the count leaves the page's ?9 and ?10 unread, and
        // SQLite counts parameters up to the highest number written.
        let args = params![
            filter.indicator,
            filter.feed,
            filter.since.map(to_unix),
            filter.until.map(to_unix),
            search,
            triage_any,
            triage_none,
            verdict,
            filter.limit as i64,
            filter.offset as i64,
            filter.skip_duplicates,
        ];
        let total: Option<i64> = match filter.around {
            Some(_) => None,
            None => Some(self.conn.query_row(
                &format!(
                    "SELECT COUNT(*) FROM hits h JOIN items i ON i.id = h.item_id
                     LEFT JOIN triage t ON t.hit_id = h.id {conditions}"
                ),
                args,
                |row| row.get(0),
            )?),
        };
        let order = match filter.around {
            Some(Around::NewerThan(..)) => "ASC",
            _ => "DESC",
        };
        let mut statement = self.conn.prepare(&format!(
            "{HIT_SELECT} {conditions} ORDER BY h.created_at {order}, h.id {order} LIMIT ?9 OFFSET ?10"
        ))?;
        let rows = statement.query_map(args, hit_row)?;
        let mut hits = Vec::new();
        for row in rows {
            let mut hit = row?;
            hit.sources = self
                .story_sources(hit.hit_id, &hit.feed_id)?
                .into_iter()
                .map(|s| s.feed_id)
                .fold(Vec::new(), |mut ids, id| {
                    if !ids.contains(&id) {
                        ids.push(id);
                    }
                    ids
                });
            hits.push(hit);
        }
        let total = total.map_or(hits.len() as u64, |n| n as u64);
        Ok((hits, total))
    }

    /// A hit with its item's text, the story's sources and its deliveries.
    pub fn hit_detail(&self, hit_id: i64) -> Result<Option<HitDetail>, StoreError> {
        let Some(mut row) = self
            .conn
            .prepare(&format!("{HIT_SELECT} WHERE h.id = ?1"))?
            .query_row([hit_id], hit_row)
            .optional()?
        else {
            return Ok(None);
        };
        let (summary, content, authors, categories) = self.conn.query_row(
            "SELECT summary, content, authors, categories FROM items WHERE id = ?1",
            [row.item_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )?;
        let sources = self.story_sources(hit_id, &row.feed_id)?;
        row.sources = sources.iter().map(|s| s.feed_id.clone()).collect();
        row.sources.dedup();
        Ok(Some(HitDetail {
            row,
            summary,
            content,
            authors,
            categories,
            sources,
            deliveries: self.hit_alerts(hit_id)?,
        }))
    }

    /// Hits of an indicator per UTC day over the last `days` days, every day listed, oldest
    /// first. Only hits that stand count: not retracted, not judged false positives, and
    /// unless `with_repeats`, not duplicates nor folded into an earlier report.
    pub fn hits_per_day(
        &self,
        indicator_id: &str,
        days: u32,
        now: DateTime<Utc>,
        with_repeats: bool,
    ) -> Result<Vec<(NaiveDate, u64)>, StoreError> {
        let today = now.date_naive();
        let first = today - chrono::Duration::days(i64::from(days.max(1)) - 1);
        let start = first
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc())
            .unwrap_or(now);
        let mut statement = self.conn.prepare_cached(&format!(
            "SELECT date(h.created_at, 'unixepoch'), COUNT(*)
             FROM hits h LEFT JOIN triage t ON t.hit_id = h.id
             WHERE h.indicator_id = ?1 AND h.created_at >= ?2 AND h.retracted_at IS NULL
               AND t.verdict IS NOT 'false_positive' AND (?3 OR {NOT_DUPLICATE_SQL})
             GROUP BY 1"
        ))?;
        let counts: std::collections::HashMap<String, u64> = statement
            .query_map(params![indicator_id, to_unix(start), with_repeats], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)? as u64))
            })?
            .collect::<Result<_, _>>()?;
        Ok(first
            .iter_days()
            .take_while(|d| *d <= today)
            .map(|d| (d, counts.get(&d.to_string()).copied().unwrap_or(0)))
            .collect())
    }

    /// Each indicator's standing hits counted over the last 7, 30 and 90 days, its last hit,
    /// and its verdicts, for the indicators page. Retracted hits do not count.
    pub fn indicator_summaries(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<IndicatorSummary>, StoreError> {
        let since = |days: i64| to_unix(now - chrono::Duration::days(days));
        let mut statement = self.conn.prepare_cached(
            "SELECT h.indicator_id,
                    COALESCE(SUM(h.created_at >= ?1), 0), COALESCE(SUM(h.created_at >= ?2), 0),
                    COALESCE(SUM(h.created_at >= ?3), 0), MAX(h.created_at),
                    COALESCE(SUM(t.verdict = 'relevant'), 0),
                    COALESCE(SUM(t.verdict = 'false_positive'), 0)
             FROM hits h LEFT JOIN triage t ON t.hit_id = h.id
             WHERE h.retracted_at IS NULL
             GROUP BY h.indicator_id",
        )?;
        let rows = statement.query_map(params![since(7), since(30), since(90)], |row| {
            Ok(IndicatorSummary {
                indicator_id: row.get(0)?,
                hits_7: row.get::<_, i64>(1)? as u64,
                hits_30: row.get::<_, i64>(2)? as u64,
                hits_90: row.get::<_, i64>(3)? as u64,
                last_hit: row.get::<_, Option<i64>>(4)?.map(from_unix),
                relevant: row.get::<_, i64>(5)? as u64,
                false_positive: row.get::<_, i64>(6)? as u64,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Every triaged item with its current verdicts per indicator, for `export-labels`, by
    /// item. A verdict on a folded hit comes as [`Verdict::Duplicate`] unless it is
    /// `relevant`: a repeat judged false is the first report's false positive, already
    /// counted there, and must not count twice.
    pub fn triaged_items(&self) -> Result<Vec<TriagedItem>, StoreError> {
        let mut statement = self.conn.prepare(
            "SELECT i.id, i.title, i.summary, i.content, h.indicator_id,
                    CASE WHEN h.story_id IS NOT NULL AND t.verdict <> 'relevant'
                         THEN 'duplicate' ELSE t.verdict END,
                    i.lang
             FROM triage t JOIN hits h ON h.id = t.hit_id JOIN items i ON i.id = h.item_id
             ORDER BY i.id, h.indicator_id",
        )?;
        let mut rows = statement.query([])?;
        let mut items: Vec<TriagedItem> = Vec::new();
        while let Some(row) = rows.next()? {
            let item_id: i64 = row.get(0)?;
            let verdict = Verdict::parse(&row.get::<_, String>(5)?).unwrap_or(Verdict::Relevant);
            let indicator: String = row.get(4)?;
            match items.last_mut() {
                Some(last) if last.item_id == item_id => last.verdicts.push((indicator, verdict)),
                _ => items.push(TriagedItem {
                    item_id,
                    title: row.get(1)?,
                    summary: row.get(2)?,
                    content: row.get(3)?,
                    lang: row.get(6)?,
                    verdicts: vec![(indicator, verdict)],
                }),
            }
        }
        Ok(items)
    }
}

/// An item reviewers judged, with a verdict per indicator that hit it.
#[derive(Clone, Debug, PartialEq)]
pub struct TriagedItem {
    pub item_id: i64,
    pub title: String,
    pub summary: String,
    pub content: String,
    /// As stored: a code, `und`, or `None` for items stored before languages were identified.
    pub lang: Option<String>,
    pub verdicts: Vec<(String, Verdict)>,
}
