//! The submitting side: modules uploaded once, jobs published, results
//! followed.

use std::collections::HashMap;

use async_nats::HeaderMap;
use futures_util::StreamExt as _;
use tracing::Instrument as _;

use crate::error::{NatsError, Result};
use crate::job::{JobResult, NatsJob, cancel_subject, sha256_hex};
use crate::queues::{Queues, put_result};

/// How long a watch may be quiet before it is made again.
const STALL: std::time::Duration = std::time::Duration::from_secs(3);

/// How many publications a submission has waiting for their
/// acknowledgment at most (the client's own bound is 5 000).
const WINDOW: usize = 1024;

/// How long a submission keeps trying to get its jobs stored.
const SUBMIT_PATIENCE: std::time::Duration = std::time::Duration::from_secs(60);

impl Queues {
    /// Stores `wasm` in the module store under its SHA-256, unless it is
    /// there already, and gives the hash.
    ///
    /// # Errors
    /// [`NatsError::Nats`] when the store cannot be read or written.
    pub async fn upload_module(&self, wasm: &[u8]) -> Result<String> {
        let hash = sha256_hex(wasm);
        if self.modules.info(&hash).await.is_ok() {
            return Ok(hash);
        }
        let mut reader = wasm;
        self.modules
            .put(hash.as_str(), &mut reader)
            .await
            .map_err(|e| NatsError::nats(format!("uploading module {hash}"), e))?;
        Ok(hash)
    }

    /// Publishes `jobs`, each with its id as the message id (a second
    /// publication of the same id within two minutes is dropped by the
    /// stream), and waits until the server has stored every one.
    ///
    /// # Errors
    /// [`NatsError::Nats`] when a publication is not acknowledged.
    pub async fn submit(&self, jobs: &[NatsJob]) -> Result<()> {
        // Published in windows of `WINDOW`, each window's acknowledgments
        // awaited before the next is published: the client lets a bounded
        // number of acknowledgments be outstanding and makes a publication
        // past them wait, so publishing everything before awaiting anything
        // would stop at that bound. A job whose acknowledgment does not come
        // (the server went away) is published again — the same message id,
        // so it is stored once — until `SUBMIT_PATIENCE` has passed.
        let span = tracing::info_span!(
            "oanix.submit",
            jobs = jobs.len(),
            batch = jobs.first().map_or("", |j| j.batch.as_str())
        );
        for window in jobs.chunks(WINDOW) {
            self.submit_window(window, &span)
                .instrument(span.clone())
                .await?;
        }
        Ok(())
    }

    async fn submit_window(&self, jobs: &[NatsJob], span: &tracing::Span) -> Result<()> {
        let started = std::time::Instant::now();
        let mut left: Vec<&NatsJob> = jobs.iter().collect();
        loop {
            let mut acks = Vec::with_capacity(left.len());
            let mut failed = Vec::new();
            for job in left {
                let payload = serde_json::to_vec(job)
                    .map_err(|e| NatsError::nats(format!("encoding job {}", job.id), e))?;
                let mut headers = HeaderMap::new();
                headers.insert("Nats-Msg-Id", job.id.as_str());
                // The worker's spans continue the submission's trace.
                crate::trace::inject(span, &mut headers);
                match self
                    .js
                    .publish_with_headers(job.band.subject(), headers, payload.into())
                    .await
                {
                    Ok(ack) => acks.push((job, ack)),
                    Err(e) => failed.push((job, e.to_string())),
                }
            }
            for (job, ack) in acks {
                match tokio::time::timeout(STALL, ack.into_future()).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => failed.push((job, e.to_string())),
                    Err(_) => failed.push((job, "no acknowledgment".to_owned())),
                }
            }
            let Some((job, why)) = failed.first() else {
                return Ok(());
            };
            if started.elapsed() > SUBMIT_PATIENCE {
                return Err(NatsError::nats(format!("storing job {}", job.id), why));
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            left = failed.into_iter().map(|(j, _)| j).collect();
        }
    }

    /// Cancels the jobs `ids` that have no result yet, for `reason`: each
    /// gets a [`JobState::Cancelled`](crate::JobState::Cancelled) result
    /// (written with the same create as a worker's, so a job that finished
    /// first keeps its own result), and the workers are told, so that one
    /// running it stops it and one holding it does not start it. A worker
    /// that takes such a job later finds its result and acknowledges it
    /// without running it. Gives how many were cancelled.
    ///
    /// # Errors
    /// [`NatsError::Nats`] when a result cannot be written.
    pub async fn cancel(&self, ids: &[String], reason: &str) -> Result<usize> {
        let client = self.js.client();
        let mut cancelled = 0;
        for window in ids.chunks(WINDOW) {
            let written = futures_util::future::join_all(window.iter().map(|id| async move {
                let result = JobResult::cancelled(id, reason);
                match tokio::time::timeout(STALL, put_result(&self.results, &result)).await {
                    Ok(r) => r,
                    Err(_) => Err(NatsError::nats(
                        format!("cancelling {id}"),
                        "the server did not answer",
                    )),
                }
            }))
            .await;
            for (id, written) in window.iter().zip(written) {
                if written? {
                    cancelled += 1;
                    client
                        .publish(cancel_subject(id), bytes::Bytes::new())
                        .await
                        .map_err(|e| NatsError::nats(format!("telling the cancel of {id}"), e))?;
                }
            }
        }
        client
            .flush()
            .await
            .map_err(|e| NatsError::nats("telling the cancels", e))?;
        Ok(cancelled)
    }

    /// Follows the results of batch `batch` until `ids` all have one,
    /// calling `seen` for each as it arrives (results written before the
    /// call are seen too). A watch that breaks (the server restarted, the
    /// connection dropped) is made again, with history, until `patience`
    /// has passed without a way back to the server.
    ///
    /// # Errors
    /// [`NatsError::Nats`] when the bucket cannot be watched for longer
    /// than `patience`.
    pub async fn follow(
        &self,
        batch: &str,
        ids: &[String],
        patience: std::time::Duration,
        mut seen: impl FnMut(&JobResult),
    ) -> Result<HashMap<String, JobResult>> {
        let span = tracing::info_span!("oanix.follow", batch, jobs = ids.len());
        self.follow_in(batch, ids, patience, &mut seen)
            .instrument(span)
            .await
    }

    async fn follow_in(
        &self,
        batch: &str,
        ids: &[String],
        patience: std::time::Duration,
        seen: &mut impl FnMut(&JobResult),
    ) -> Result<HashMap<String, JobResult>> {
        let wanted: std::collections::HashSet<&str> = ids.iter().map(String::as_str).collect();
        let mut got = HashMap::new();
        let mut broken_since: Option<std::time::Instant> = None;
        // The revision after the last entry seen: a new watch starts there.
        let mut next_revision: Option<u64> = None;
        let key = format!("{batch}.>");
        while got.len() < wanted.len() {
            let watch = match next_revision {
                Some(r) => self.results.watch_from_revision(&key, r).await,
                None => self.results.watch_with_history(&key).await,
            };
            let failure = match watch {
                Err(e) => e.to_string(),
                Ok(mut watch) => loop {
                    // A watch whose server went away may wait for ever: a
                    // quiet one is made again (from where it was).
                    let next = tokio::time::timeout(STALL, watch.next()).await;
                    match next {
                        Err(_) => break "no result for a while; watching again".to_owned(),
                        Ok(None) => break "the watch ended".to_owned(),
                        Ok(Some(Err(e))) => break e.to_string(),
                        Ok(Some(Ok(entry))) => {
                            broken_since = None;
                            next_revision = Some(entry.revision + 1);
                            if !wanted.contains(entry.key.as_str()) || got.contains_key(&entry.key)
                            {
                                continue;
                            }
                            if let Ok(result) = serde_json::from_slice::<JobResult>(&entry.value) {
                                seen(&result);
                                got.insert(entry.key.clone(), result);
                            }
                            if got.len() == wanted.len() {
                                break String::new();
                            }
                        }
                    }
                },
            };
            if got.len() == wanted.len() {
                break;
            }
            if failure.starts_with("no result for a while") {
                continue;
            }
            let since = *broken_since.get_or_insert_with(std::time::Instant::now);
            if since.elapsed() > patience {
                return Err(NatsError::nats(
                    format!("watching the results of {batch}"),
                    failure,
                ));
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        Ok(got)
    }
}
