//! Gap-free delivery: per-conversation seqs, persisted, and the catch-up after every connect
//! (spec §1.8, "Recommended bot algorithm").
//!
//! The official SDKs fetch only the newest 1 or 10 messages per conversation after an outage;
//! a bot must see every one. So after each (re)connect we ask for the newest seq of every
//! conversation (1001) and pull everything past our own mark in pages (1002). Pushes that
//! arrive meanwhile wait in the connection's event queue and are handled afterwards: a seq at or
//! below the mark is a duplicate, the next seq is delivered, and a jump pulls the gap first.
//!
//! A conversation's mark moves only after its messages were handed to the [`Sink`], which
//! makes them durable (the dedup journal), so a crash re-pulls at most one page and the journal
//! drops what it already has.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use channel_core::{ChannelError, state};
use serde::{Deserialize, Serialize};

use super::conn::Connection;
use crate::wire::content_type;
use crate::wire::conversation;
use crate::wire::proto::{
    GetMaxSeqReq, GetMaxSeqResp, MsgData, PullMessageBySeqsReq, PullMessageBySeqsResp, PullOrder,
    PushMessages, SeqRange,
};

/// Seqs per pull request. A hundred average messages stay far below the 1 MiB frame cap.
pub const PAGE: i64 = 100;

/// Where messages go once they are in order.
#[async_trait::async_trait]
pub trait Sink: Send + Sync {
    /// Takes one message from someone else, durably. An error keeps the conversation's mark
    /// where it is, so the message is pulled again after the next connect.
    async fn deliver(&self, conversation_id: &str, msg: MsgData) -> Result<(), ChannelError>;

    /// One of our own messages, seen stored (a push echo or a pulled copy).
    fn own(&self, msg: &MsgData);
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct SeqFile {
    /// The newest seq handled, per conversation id.
    #[serde(default)]
    conversations: BTreeMap<String, i64>,
}

/// The persisted marks of one account.
#[derive(Debug)]
pub struct Seqs {
    path: PathBuf,
    file: SeqFile,
    /// No file yet: the account never synced, so history is not replayed.
    fresh: bool,
}

impl Seqs {
    pub fn open(path: impl Into<PathBuf>) -> Result<Self, ChannelError> {
        let path = path.into();
        let loaded: Option<SeqFile> = state::read_json(&path).map_err(|e| {
            ChannelError::from(e).context(format!("reading the seq marks {}", path.display()))
        })?;
        Ok(Self {
            fresh: loaded.is_none(),
            file: loaded.unwrap_or_default(),
            path,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn get(&self, conversation_id: &str) -> Option<i64> {
        self.file.conversations.get(conversation_id).copied()
    }

    pub fn is_fresh(&self) -> bool {
        self.fresh
    }

    fn set(&mut self, conversation_id: &str, seq: i64) {
        let mark = self
            .file
            .conversations
            .entry(conversation_id.to_owned())
            .or_insert(0);
        *mark = (*mark).max(seq);
    }

    fn save(&mut self) -> Result<(), ChannelError> {
        state::write_json(&self.path, &self.file, false).map_err(|e| save_error(&self.path, e))?;
        self.fresh = false;
        Ok(())
    }
}

fn save_error(path: &Path, e: io::Error) -> ChannelError {
    ChannelError::from(e).context(format!("saving the seq marks {}", path.display()))
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
}

/// The seq bookkeeping of one account, driven by its connection loop.
#[derive(Debug)]
pub struct Sequencer {
    seqs: Seqs,
    me: String,
    page: i64,
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
        }
    }

    pub fn with_page(mut self, page: i64) -> Self {
        self.page = page.max(1);
        self
    }

    pub fn seqs(&self) -> &Seqs {
        &self.seqs
    }

    /// Brings every conversation up to the server's newest seq.
    pub async fn catch_up(
        &mut self,
        conn: &Connection,
        sink: &dyn Sink,
    ) -> Result<CatchUp, ChannelError> {
        let newest: GetMaxSeqResp = conn
            .request(&GetMaxSeqReq {
                user_id: self.me.clone(),
            })
            .await
            .map_err(|e| e.context("catch-up: newest seqs"))?;
        let mut report = CatchUp::default();
        let first_sync = self.seqs.is_fresh();
        for (conversation_id, &server) in newest.max_seqs.iter().filter(|(c, _)| wanted(c)) {
            let local = match self.seqs.get(conversation_id) {
                Some(local) => local,
                // An account's first connect starts from now; a conversation that appeared
                // while we were away is new to us and read from its start.
                None if first_sync => {
                    self.seqs.set(conversation_id, server);
                    report.baselined += 1;
                    continue;
                }
                None => 0,
            };
            if server <= local {
                continue;
            }
            report.conversations += 1;
            report.pulled += self
                .pull(conn, sink, conversation_id, local, server)
                .await?;
        }
        self.seqs.save()?;
        if report.baselined > 0 {
            tracing::info!(user = %self.me, conversations = report.baselined, "first sync: existing history is not replayed");
        }
        Ok(report)
    }

    /// Pulls `(after, upto]` of one conversation page by page, moving its mark after each page.
    async fn pull(
        &mut self,
        conn: &Connection,
        sink: &dyn Sink,
        conversation_id: &str,
        after: i64,
        upto: i64,
    ) -> Result<usize, ChannelError> {
        let mut pulled = 0;
        let mut begin = after + 1;
        while begin <= upto {
            let end = (begin + self.page - 1).min(upto);
            let answer: PullMessageBySeqsResp = conn
                .request(&PullMessageBySeqsReq {
                    user_id: self.me.clone(),
                    seq_ranges: vec![SeqRange {
                        conversation_id: conversation_id.to_owned(),
                        begin,
                        end,
                        // The whole range: with a smaller num the server returns only its tail.
                        num: end - begin + 1,
                    }],
                    order: PullOrder::Asc as i32,
                })
                .await
                .map_err(|e| {
                    e.context(format!(
                        "catch-up: pulling {conversation_id} {begin}..={end}"
                    ))
                })?;
            let mut msgs = answer
                .msgs
                .into_iter()
                .filter(|(c, _)| c == conversation_id)
                .flat_map(|(_, page)| page.msgs)
                .filter(|m| (begin..=end).contains(&m.seq))
                .collect::<Vec<_>>();
            msgs.sort_by_key(|m| m.seq);
            msgs.dedup_by_key(|m| m.seq);
            pulled += msgs.len();
            for msg in msgs {
                self.hand_over(sink, conversation_id, msg).await?;
            }
            // Seqs the server did not return lie outside our window (joined late, left): there is
            // nothing to wait for.
            self.seqs.set(conversation_id, end);
            self.seqs.save()?;
            begin = end + 1;
        }
        Ok(pulled)
    }

    /// Handles a 2001 push after catch-up: duplicates dropped, gaps pulled first.
    pub async fn on_push(
        &mut self,
        conn: &Connection,
        sink: &dyn Sink,
        push: PushMessages,
    ) -> Result<(), ChannelError> {
        for (conversation_id, page) in push.msgs.into_iter().filter(|(c, _)| wanted(c)) {
            let mut msgs = page.msgs;
            msgs.sort_by_key(|m| m.seq);
            for msg in msgs {
                if msg.seq == 0 {
                    // Online-only (history=false): never stored, so there is no mark to keep.
                    self.hand_over(sink, &conversation_id, msg).await?;
                    continue;
                }
                let local = self.seqs.get(&conversation_id).unwrap_or(0);
                if msg.seq <= local {
                    tracing::debug!(user = %self.me, conversation = %conversation_id, seq = msg.seq, "dropping a push already handled");
                    continue;
                }
                if msg.seq > local + 1 {
                    let seq = msg.seq;
                    tracing::info!(user = %self.me, conversation = %conversation_id, from = local + 1, to = seq - 1, "push skipped seqs; pulling the gap");
                    self.pull(conn, sink, &conversation_id, local, seq - 1)
                        .await?;
                }
                let seq = msg.seq;
                self.hand_over(sink, &conversation_id, msg).await?;
                self.seqs.set(&conversation_id, seq);
                self.seqs.save()?;
            }
        }
        Ok(())
    }

    async fn hand_over(
        &self,
        sink: &dyn Sink,
        conversation_id: &str,
        msg: MsgData,
    ) -> Result<(), ChannelError> {
        if msg.is_placeholder() {
            return Ok(());
        }
        if msg.send_id == self.me {
            sink.own(&msg);
            return Ok(());
        }
        // Server notices (group events, revokes, read receipts) are not messages for the agent.
        if content_type::is_notification(msg.content_type) {
            return Ok(());
        }
        sink.deliver(conversation_id, msg).await
    }
}
