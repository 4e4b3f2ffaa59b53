//! The submitting side: modules uploaded once, jobs published, results
//! followed.

use std::collections::HashMap;

use async_nats::HeaderMap;
use futures_util::StreamExt as _;

use crate::error::{NatsError, Result};
use crate::job::{JobResult, NatsJob, sha256_hex};
use crate::queues::Queues;

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
        let mut acks = Vec::with_capacity(jobs.len());
        for job in jobs {
            let payload = serde_json::to_vec(job)
                .map_err(|e| NatsError::nats(format!("encoding job {}", job.id), e))?;
            let mut headers = HeaderMap::new();
            headers.insert("Nats-Msg-Id", job.id.as_str());
            let ack = self
                .js
                .publish_with_headers(job.band.subject(), headers, payload.into())
                .await
                .map_err(|e| NatsError::nats(format!("publishing job {}", job.id), e))?;
            acks.push((job.id.clone(), ack));
        }
        for (id, ack) in acks {
            ack.await
                .map_err(|e| NatsError::nats(format!("storing job {id}"), e))?;
        }
        Ok(())
    }

    /// Follows the results of batch `batch` until `ids` all have one,
    /// calling `seen` for each as it arrives (results written before the
    /// call are seen too).
    ///
    /// # Errors
    /// [`NatsError::Nats`] when the bucket cannot be watched.
    pub async fn follow(
        &self,
        batch: &str,
        ids: &[String],
        mut seen: impl FnMut(&JobResult),
    ) -> Result<HashMap<String, JobResult>> {
        let mut watch = self
            .results
            .watch_with_history(format!("{batch}.>"))
            .await
            .map_err(|e| NatsError::nats(format!("watching the results of {batch}"), e))?;
        let wanted: std::collections::HashSet<&str> = ids.iter().map(String::as_str).collect();
        let mut got = HashMap::new();
        while got.len() < wanted.len() {
            let Some(entry) = watch.next().await else {
                return Err(NatsError::nats(
                    format!("watching the results of {batch}"),
                    "the watch ended",
                ));
            };
            let entry = entry.map_err(|e| NatsError::nats(format!("the results of {batch}"), e))?;
            if !wanted.contains(entry.key.as_str()) || got.contains_key(&entry.key) {
                continue;
            }
            if let Ok(result) = serde_json::from_slice::<JobResult>(&entry.value) {
                seen(&result);
                got.insert(entry.key.clone(), result);
            }
        }
        Ok(got)
    }
}
