//! Gap-free delivery: per-conversation seqs, persisted, and the catch-up after every connect
//! (spec §1.8, "Recommended bot algorithm").
//!
//! The official SDKs fetch only the newest 1 or 10 messages per conversation after an outage;
//! a bot must see every one. So after each (re)connect we ask for the newest seq of every
//! conversation (1001) and pull everything past our own mark in pages (1002). Pushes that
//! arrive meanwhile wait in the connection's event queue and are handled afterwards: a seq at or
//! below the mark is a duplicate, the next seq is delivered, and a jump puts the conversation
//! on the backlog, which pulls the gap (the pushed message included) in order.
//!
//! Bounds, so that no server answer can keep us busy forever:
//! - Every seq is checked ([`check`]): a negative one or one past 2^53 is a protocol
//!   error naming the frame and the conversation. That conversation is left where it is for
//!   this round (logged as an error, counted in [`CatchUp::refused`]); the others go on.
//! - A catch-up pulls at most [`CATCH_UP_PAGES`] pages per conversation. A conversation with
//!   more to read stays on the backlog: after the catch-up the connection loop pulls it one page
//!   at a time, between live pushes, until it reached the seq the server named. Nothing is
//!   skipped, and a flooded group does not hold up the other conversations' live messages.
//! - A conversation seen for the first time on an account that has synced before is read from
//!   the first message sent after the account was last in sync ([`Seqs::synced_at`], less
//!   [`SYNC_MARGIN`] for clocks and messages in flight), found by a binary search of single-seq
//!   pulls, and at least its last page ([`recent_start`]). Those messages were missed (the
//!   conversation began while the account was away, or while a connection died under its first
//!   pushes); older history (a group the bot just joined) is not replayed, which is logged
//!   with the count. A probe whose answer is over the frame cap falls back to the last page.
//!   The account's very first sync reads no history at all.
//! - A page whose answer is larger than the 1 MiB frame cap ends the connection (the socket
//!   cannot skip a frame it refuses). Within the range that did not fit, the conversation's
//!   pages are halved for the next try, down to a single seq; past it they are full again.
//!   A single message that still does not fit, on [`SINGLE_TRIES`] connections in a row, can
//!   never be delivered: it is skipped with an error log naming the conversation and the seq,
//!   and counted ([`Sequencer::too_large`]). One failure is not enough: the frame that did not
//!   fit may have been another one (a push of a large message elsewhere), and a skip is for good.
//!
//! A conversation's mark moves only after its messages were handed to the [`Sink`], which
//! makes them durable (the dedup journal), so a crash re-pulls at most one page and the journal
//! drops what it already has.

use std::collections::{BTreeMap, HashMap};

use channel_core::ChannelError;

use super::conn::Connection;
pub use super::seqs::{SEQ_LIMIT, Seqs};
use super::seqs::{check, next_page, recent_start};
use crate::wire::content_type;
use crate::wire::conversation;
use crate::wire::proto::{
    GetMaxSeqReq, GetMaxSeqResp, MsgData, PullMessageBySeqsReq, PullMessageBySeqsResp, PullOrder,
    PushMessages, SeqRange,
};

/// Seqs per pull request. A hundred average messages stay far below the 1 MiB frame cap.
pub const PAGE: i64 = 100;

/// Seqs one probe of [`Sequencer::first_missed`] asks for: a few, so that a deleted message
/// does not hide the time of its neighbours.
const PROBE: i64 = 8;

/// Pages per conversation in one catch-up; the rest is pulled from the backlog afterwards.
pub const CATCH_UP_PAGES: u32 = 20;

/// Connections in a row on which the pull of one seq alone must end by an oversized frame
/// before that message is skipped.
pub const SINGLE_TRIES: u32 = 3;

/// How much earlier than the account's last sync a message of a new conversation may be sent
/// and still count as missed: the server's clock and ours differ, and a message sent just
/// before a connection died may be stored after it.
pub const SYNC_MARGIN: std::time::Duration = std::time::Duration::from_secs(300);

const NEWEST_FRAME: &str = "1001 reply (GetMaxSeqResp)";
const PUSH_FRAME: &str = "2001 push (PushMessages)";

/// Where messages go once they are in order.
#[async_trait::async_trait]
pub trait Sink: Send + Sync {
    /// Takes messages from others (conversation id, message), in order, durably: one page or
    /// one read of pushes at a time, so that they share one fsync. An error keeps every mark
    /// the batch would move where it is, so its messages are pulled again after the next
    /// connect.
    async fn deliver(&self, batch: Vec<(String, MsgData)>) -> Result<(), ChannelError>;

    /// One of our own messages, seen stored (a push echo or a pulled copy).
    fn own(&self, msg: &MsgData);
}

/// What one catch-up did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CatchUp {
    /// Conversations that had something new.
    pub conversations: usize,
    /// Messages pulled (including our own and placeholders).
    pub pulled: usize,
    /// Conversations whose history was skipped because this is the account's first sync.
    pub baselined: usize,
    /// Conversations seen for the first time, read from their recent history only.
    pub recent: usize,
    /// Conversations with more than [`CATCH_UP_PAGES`] pages to read, left on the backlog.
    pub deferred: usize,
    /// Conversations whose newest seq was absurd (negative or past 2^53), not pulled.
    pub refused: usize,
    /// Conversations whose newest seq was below our mark (a reset server), read again from
    /// their recent history.
    pub reset: usize,
}

/// The seq bookkeeping of one account, driven by its connection loop. It outlives the
/// connections: the backlog is rebuilt by each catch-up, the shrunk page sizes are kept.
#[derive(Debug)]
pub struct Sequencer {
    seqs: Seqs,
    me: String,
    page: i64,
    /// Conversations still to pull after the catch-up, with the newest seq the server named.
    backlog: BTreeMap<String, i64>,
    /// The conversation the backlog served last (it is served round-robin).
    served: Option<String>,
    /// Smaller pages for conversations whose page came back too large.
    shrunk: HashMap<String, Shrunk>,
    /// Messages skipped because even alone they exceed the frame cap.
    too_large: u64,
    /// Pages pulled and handed over since the account started: the headway a session made.
    pages: u64,
    /// See [`SYNC_MARGIN`].
    sync_margin: i64,
    /// When the running catch-up asked for the newest seqs: once the backlog is empty,
    /// everything stored before then was read.
    caught_up_from: Option<i64>,
}

/// A range of one conversation whose answer did not fit in a frame, and the page size that
/// pulls it now.
#[derive(Debug, Clone, Copy)]
struct Shrunk {
    size: i64,
    /// The last seq of the range that did not fit; past it, pages are full again.
    until: i64,
    /// The seq last pulled alone that did not fit, and on how many connections in a row.
    struck: Option<(i64, u32)>,
}

/// The messages of `begin..=end` of one conversation the server still has, in seq order, once
/// each.
async fn pull_range(
    conn: &Connection,
    me: &str,
    conversation_id: &str,
    begin: i64,
    end: i64,
) -> Result<Vec<MsgData>, ChannelError> {
    let answer = conn
        .request::<_, PullMessageBySeqsResp>(&PullMessageBySeqsReq {
            user_id: me.to_owned(),
            seq_ranges: vec![SeqRange {
                conversation_id: conversation_id.to_owned(),
                begin,
                end,
                // The whole range: with a smaller num the server returns only its tail.
                num: end - begin + 1,
            }],
            order: PullOrder::Asc as i32,
        })
        .await?;
    let mut msgs = answer
        .msgs
        .into_iter()
        .filter(|(c, _)| c == conversation_id)
        .flat_map(|(_, page)| page.msgs)
        .filter(|m| (begin..=end).contains(&m.seq))
        .collect::<Vec<_>>();
    msgs.sort_by_key(|m| m.seq);
    msgs.dedup_by_key(|m| m.seq);
    Ok(msgs)
}

/// Only chat conversations carry messages for the agent; `n_…` streams are server notices.
fn wanted(conversation_id: &str) -> bool {
    !conversation::is_notification(conversation_id) && !conversation_id.starts_with("sn_")
}

impl Sequencer {
    pub fn new(seqs: Seqs, me: impl Into<String>) -> Self {
        Self {
            seqs,
            me: me.into(),
            page: PAGE,
            backlog: BTreeMap::new(),
            served: None,
            shrunk: HashMap::new(),
            too_large: 0,
            pages: 0,
            sync_margin: SYNC_MARGIN.as_millis() as i64,
            caught_up_from: None,
        }
    }

    /// Another [`SYNC_MARGIN`] (tests).
    pub fn with_sync_margin(mut self, margin: std::time::Duration) -> Self {
        self.sync_margin = i64::try_from(margin.as_millis()).unwrap_or(i64::MAX);
        self
    }

    pub fn with_page(mut self, page: i64) -> Self {
        self.page = page.max(1);
        self
    }

    pub fn seqs(&self) -> &Seqs {
        &self.seqs
    }

    /// Writes marks that live pushes moved since the last write (see [`super::seqs::SAVE_EVERY`]).
    pub fn flush(&mut self) -> Result<(), ChannelError> {
        self.seqs.flush()
    }

    /// Whether some conversation is still behind the server after the catch-up.
    pub fn behind(&self) -> bool {
        !self.backlog.is_empty()
    }

    /// Pages pulled, handed over and marked since the account started.
    pub fn pages(&self) -> u64 {
        self.pages
    }

    /// Messages skipped so far because a single one is larger than the frame cap.
    pub fn too_large(&self) -> u64 {
        self.too_large
    }

    /// Brings every conversation up to the server's newest seq, at most
    /// [`CATCH_UP_PAGES`] pages each; the rest stays on the backlog ([`Sequencer::step`]).
    pub async fn catch_up(
        &mut self,
        conn: &Connection,
        sink: &dyn Sink,
    ) -> Result<CatchUp, ChannelError> {
        let asked_at = channel_core::now_ms();
        let newest: GetMaxSeqResp = conn
            .request(&GetMaxSeqReq {
                user_id: self.me.clone(),
            })
            .await
            .map_err(|e| e.context("catch-up: newest seqs"))?;
        // 1001 names every conversation's newest seq: it supersedes what an earlier
        // connection still had to pull.
        self.backlog.clear();
        let mut report = CatchUp::default();
        let first_sync = self.seqs.is_fresh();
        for (conversation_id, &server) in newest.max_seqs.iter().filter(|(c, _)| wanted(c)) {
            let server = match check(NEWEST_FRAME, conversation_id, server) {
                Ok(server) => server,
                Err(error) => {
                    tracing::error!(user = %self.me, %error, "catch-up: not pulling this conversation");
                    report.refused += 1;
                    continue;
                }
            };
            if self.seqs.get(conversation_id).is_none() {
                if first_sync {
                    // An account's first connect starts from now.
                    self.seqs.set(conversation_id, server);
                    report.baselined += 1;
                    continue;
                }
                let start = match self.first_missed(conn, conversation_id, server).await {
                    Ok(start) => start,
                    Err(error) if conn.ended_by_oversized_frame() => {
                        // A probe's answer did not fit (a giant message near it), and would
                        // not on the next connection either: start from the last page, which
                        // the pulls read in halves.
                        let start = recent_start(server, self.page);
                        tracing::warn!(user = %self.me, conversation = %conversation_id, older = start, "a new conversation whose start could not be probed (an answer over the frame cap): reading its last page only");
                        self.seqs.set(conversation_id, start);
                        self.seqs.save()?;
                        return Err(error);
                    }
                    Err(error) => return Err(error),
                };
                self.seqs.set(conversation_id, start);
                report.recent += 1;
            }
            let mut local = self.seqs.get(conversation_id).unwrap_or(0);
            if server < local {
                // A server's seqs never go back (clearing a conversation raises its min seq,
                // not its max): its store was reset, or the account now points at another
                // server. Waiting for the seqs to pass the old mark would drop every message
                // until then; the journal drops what was handled before.
                local = recent_start(server, self.page);
                tracing::warn!(user = %self.me, conversation = %conversation_id, mark = self.seqs.get(conversation_id).unwrap_or(0), newest = server, "the server's newest seq is below our mark: its history was reset; reading its recent history again");
                self.seqs.rewind(conversation_id, local);
                report.reset += 1;
            }
            if server <= local {
                continue;
            }
            report.conversations += 1;
            let (pulled, done) = self
                .pull(conn, sink, conversation_id, server, CATCH_UP_PAGES)
                .await?;
            report.pulled += pulled;
            if !done {
                self.backlog.insert(conversation_id.clone(), server);
                report.deferred += 1;
            }
        }
        self.caught_up_from = Some(asked_at);
        if self.backlog.is_empty() {
            self.seqs.mark_synced(asked_at);
        }
        self.seqs.save()?;
        if report.baselined > 0 {
            tracing::info!(user = %self.me, conversations = report.baselined, "first sync: existing history is not replayed");
        }
        if report.deferred > 0 {
            tracing::info!(user = %self.me, conversations = report.deferred, pages = CATCH_UP_PAGES, "catch-up: conversations with more pages than one catch-up reads; the rest is pulled page by page between live messages");
        }
        Ok(report)
    }

    /// The mark a conversation new to this account starts after: before the first message sent
    /// since the account was last in sync, and no later than its last page.
    async fn first_missed(
        &self,
        conn: &Connection,
        conversation_id: &str,
        newest: i64,
    ) -> Result<i64, ChannelError> {
        let recent = recent_start(newest, self.page);
        let Some(since) = self
            .seqs
            .synced_at()
            .map(|at| at.saturating_sub(self.sync_margin))
        else {
            return Ok(self.recent_only(conversation_id, recent));
        };
        // Whether the message at `seq` (or the next one the server still has) was sent after
        // `since`; with none left up to `newest`, the answer is no.
        let missed = async |seq: i64| -> Result<bool, ChannelError> {
            let end = seq.saturating_add(PROBE - 1).min(newest);
            let msgs = pull_range(conn, &self.me, conversation_id, seq, end)
                .await
                .map_err(|e| {
                    e.context(format!(
                        "catch-up: finding where the new conversation {conversation_id} begins"
                    ))
                })?;
            Ok(msgs.first().is_some_and(|m| m.send_time > since))
        };
        if recent == 0 || !missed(recent + 1).await? {
            return Ok(self.recent_only(conversation_id, recent));
        }
        // Send times grow with seqs: find the first seq sent after `since` in 1..=recent.
        let (mut low, mut high) = (1, recent + 1);
        while low < high {
            let mid = low + (high - low) / 2;
            if missed(mid).await? {
                high = mid;
            } else {
                low = mid + 1;
            }
        }
        let start = low - 1;
        tracing::info!(user = %self.me, conversation = %conversation_id, missed = newest - start, older = start, "a new conversation: reading every message sent since the account was last in sync; older history is not replayed");
        Ok(start)
    }

    /// [`recent_start`], logged.
    fn recent_only(&self, conversation_id: &str, start: i64) -> i64 {
        if start > 0 {
            tracing::info!(user = %self.me, conversation = %conversation_id, older = start, "a new conversation: reading its recent history only; older messages are not replayed");
        }
        start
    }

    /// A conversation we never saw: read from its last page up to `newest`, not its start.
    fn start_recent(&mut self, conversation_id: &str, newest: i64) {
        let start = recent_start(newest, self.page);
        if start > 0 {
            tracing::info!(user = %self.me, conversation = %conversation_id, older = start, "a new conversation: reading its recent history only; older messages are not replayed");
        }
        self.seqs.set(conversation_id, start);
    }

    /// Pulls one page of the next conversation on the backlog (round-robin), and drops the
    /// conversation from it once it reached its target.
    pub async fn step(&mut self, conn: &Connection, sink: &dyn Sink) -> Result<(), ChannelError> {
        let next = self
            .served
            .as_ref()
            .and_then(|last| {
                use std::ops::Bound::{Excluded, Unbounded};
                self.backlog
                    .range::<String, _>((Excluded(last), Unbounded))
                    .next()
            })
            .or_else(|| self.backlog.iter().next())
            .map(|(c, &upto)| (c.clone(), upto));
        let Some((conversation_id, upto)) = next else {
            return Ok(());
        };
        self.served = Some(conversation_id.clone());
        let (_, done) = self.pull(conn, sink, &conversation_id, upto, 1).await?;
        if done {
            self.backlog.remove(&conversation_id);
            tracing::info!(user = %self.me, conversation = %conversation_id, seq = upto, "backlog: conversation caught up");
            if let (true, Some(at)) = (self.backlog.is_empty(), self.caught_up_from) {
                self.seqs.mark_synced(at);
                self.seqs.save()?;
            }
        }
        Ok(())
    }

    /// Pulls up to `pages` pages of `(mark, upto]` of one conversation, moving its mark after
    /// each page. `true` when the mark reached `upto`.
    async fn pull(
        &mut self,
        conn: &Connection,
        sink: &dyn Sink,
        conversation_id: &str,
        upto: i64,
        pages: u32,
    ) -> Result<(usize, bool), ChannelError> {
        let mut pulled = 0;
        // The next page, asked for while this one was delivered: a round trip and an fsync
        // overlap instead of adding up.
        let mut ahead: Option<(Page, Pulled)> = None;
        for page in 0..pages {
            let mark = self.seqs.get(conversation_id).unwrap_or(0);
            let size = self.page_at(conversation_id, mark.saturating_add(1));
            let Some((begin, end)) = next_page(mark, upto, size) else {
                return Ok((pulled, true));
            };
            let answer = match ahead.take() {
                Some((range, answer)) if range == (begin, end) => answer,
                _ => pull_range(conn, &self.me, conversation_id, begin, end).await,
            };
            let msgs = match answer {
                Ok(msgs) => msgs,
                Err(error) => {
                    let error = error.context(format!(
                        "catch-up: pulling {conversation_id} {begin}..={end}"
                    ));
                    if conn.ended_by_oversized_frame() {
                        self.too_big(conversation_id, begin, end)?;
                    }
                    return Err(error);
                }
            };
            pulled += msgs.len();
            let mut batch = Vec::with_capacity(msgs.len());
            for msg in msgs {
                self.sort_in(sink, &mut batch, conversation_id, msg);
            }
            let next = if page + 1 < pages {
                next_page(
                    end,
                    upto,
                    self.page_at(conversation_id, end.saturating_add(1)),
                )
            } else {
                None
            };
            let me = &self.me;
            let (delivered, fetched) = tokio::join!(deliver(sink, batch), async {
                match next {
                    Some((begin, end)) => Some((
                        (begin, end),
                        pull_range(conn, me, conversation_id, begin, end).await,
                    )),
                    None => None,
                }
            });
            delivered?;
            ahead = fetched;
            // Seqs the server did not return lie outside our window (joined late, left): there is
            // nothing to wait for. The journal has the messages: the mark may wait in memory.
            self.seqs.set(conversation_id, end);
            self.seqs.save_soon()?;
            self.pages += 1;
        }
        let mark = self.seqs.get(conversation_id).unwrap_or(0);
        Ok((pulled, mark >= upto))
    }

    /// The answer to `begin..=end` did not fit in one frame: pages within that range ask for
    /// half as many seqs. A single seq that does not fit is skipped for good, loudly.
    fn too_big(&mut self, conversation_id: &str, begin: i64, end: i64) -> Result<(), ChannelError> {
        let size = end - begin + 1;
        if size > 1 {
            let half = size / 2;
            tracing::warn!(user = %self.me, conversation = %conversation_id, begin, end, page = half, "a page was larger than the frame cap; retrying it in smaller pages");
            let shrunk = self
                .shrunk
                .entry(conversation_id.to_owned())
                .or_insert(Shrunk {
                    size: half,
                    until: end,
                    struck: None,
                });
            shrunk.size = half;
            shrunk.until = shrunk.until.max(end);
            return Ok(());
        }
        let shrunk = self
            .shrunk
            .entry(conversation_id.to_owned())
            .or_insert(Shrunk {
                size: 1,
                until: end,
                struck: None,
            });
        let tries = match shrunk.struck {
            Some((seq, tries)) if seq == begin => tries + 1,
            _ => 1,
        };
        shrunk.struck = Some((begin, tries));
        if tries < SINGLE_TRIES {
            tracing::warn!(user = %self.me, conversation = %conversation_id, seq = begin, tries, "a frame over the cap came while one message was pulled alone; pulling it again on the next connection before giving it up");
            return Ok(());
        }
        self.too_large += 1;
        tracing::error!(user = %self.me, conversation = %conversation_id, seq = begin, skipped_total = self.too_large, "a single message is larger than the 1 MiB frame cap and can never be delivered; skipping it");
        self.seqs.set(conversation_id, begin);
        self.seqs.save()
    }

    /// The page size for a pull of `conversation_id` starting at `begin`: smaller inside a
    /// range whose answer did not fit, the full page past it.
    fn page_at(&mut self, conversation_id: &str, begin: i64) -> i64 {
        match self.shrunk.get(conversation_id) {
            Some(shrunk) if begin <= shrunk.until => shrunk.size,
            Some(_) => {
                self.shrunk.remove(conversation_id);
                self.page
            }
            None => self.page,
        }
    }

    /// Handles the 2001 pushes of one read after catch-up: duplicates dropped, gaps left to
    /// the backlog, the rest delivered as one batch before any mark moves.
    pub async fn on_push(
        &mut self,
        sink: &dyn Sink,
        pushes: Vec<PushMessages>,
    ) -> Result<(), ChannelError> {
        let mut batch = Vec::new();
        // The marks the batch moves, written once it is delivered.
        let mut moved: HashMap<String, i64> = HashMap::new();
        for push in pushes {
            for (conversation_id, page) in push.msgs.into_iter().filter(|(c, _)| wanted(c)) {
                let mut msgs = page.msgs;
                msgs.sort_by_key(|m| m.seq);
                for msg in msgs {
                    if msg.seq == 0 {
                        // Online-only (history=false): never stored, so there is no mark to keep.
                        self.sort_in(sink, &mut batch, &conversation_id, msg);
                        continue;
                    }
                    let seq = match check(PUSH_FRAME, &conversation_id, msg.seq) {
                        Ok(seq) => seq,
                        Err(error) => {
                            // The mark stays: if the message is real, the next catch-up pulls it.
                            tracing::error!(user = %self.me, %error, "dropping a pushed message");
                            continue;
                        }
                    };
                    if let Some(upto) = self.backlog.get_mut(&conversation_id) {
                        // The backlog pulls it, in order with the rest.
                        *upto = (*upto).max(seq);
                        continue;
                    }
                    if self.seqs.get(&conversation_id).is_none() {
                        self.start_recent(&conversation_id, seq);
                    }
                    let local = moved
                        .get(&conversation_id)
                        .copied()
                        .or_else(|| self.seqs.get(&conversation_id))
                        .unwrap_or(0);
                    if seq <= local {
                        tracing::debug!(user = %self.me, conversation = %conversation_id, seq, "dropping a push already handled");
                        continue;
                    }
                    if seq > local + 1 {
                        tracing::info!(user = %self.me, conversation = %conversation_id, from = local + 1, to = seq, "push skipped seqs; pulling the gap");
                        self.backlog.insert(conversation_id.clone(), seq);
                        continue;
                    }
                    self.sort_in(sink, &mut batch, &conversation_id, msg);
                    moved.insert(conversation_id.clone(), seq);
                }
            }
        }
        deliver(sink, batch).await?;
        if moved.is_empty() {
            return Ok(());
        }
        for (conversation_id, seq) in moved {
            self.seqs.set(&conversation_id, seq);
        }
        if self.backlog.is_empty() {
            // Live and caught up: whatever was stored until now has been pushed.
            self.seqs.mark_synced(channel_core::now_ms());
        }
        self.seqs.save_soon()
    }

    /// Adds `msg` to `batch` if it is for the agent: not a placeholder, not ours (which only
    /// confirms a send), not a server notice (group events, revokes, read receipts).
    fn sort_in(
        &self,
        sink: &dyn Sink,
        batch: &mut Vec<(String, MsgData)>,
        conversation_id: &str,
        msg: MsgData,
    ) {
        if msg.is_placeholder() {
            return;
        }
        if msg.send_id == self.me {
            sink.own(&msg);
            return;
        }
        if content_type::is_notification(msg.content_type) {
            return;
        }
        batch.push((conversation_id.to_owned(), msg));
    }
}

/// A page's seqs, first and last.
type Page = (i64, i64);
/// A page's answer.
type Pulled = Result<Vec<MsgData>, ChannelError>;

async fn deliver(sink: &dyn Sink, batch: Vec<(String, MsgData)>) -> Result<(), ChannelError> {
    if batch.is_empty() {
        return Ok(());
    }
    sink.deliver(batch).await
}
