//! The JetStream objects a cluster of workers shares, made if missing.

use std::time::Duration;

use async_nats::jetstream::{self, kv, object_store, stream};

use crate::error::{NatsError, Result};
use crate::job::{JobResult, MODULES, RESULTS, STREAM};

/// How jobs are delivered.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct QueueConfig {
    /// How long a delivered job may go without an ack (or a progress ack,
    /// which a worker sends while it runs) before it is delivered again.
    /// Default 30 s. It is the consumers' setting, so the cluster's: the
    /// worker started last sets it for all.
    pub ack_wait: Duration,
    /// How many deliveries a job gets before a worker parks it instead of
    /// running it. Default 3.
    pub max_attempts: i64,
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self {
            ack_wait: Duration::from_secs(30),
            max_attempts: 3,
        }
    }
}

/// The stream, the results and the modules of one cluster.
#[derive(Clone)]
pub struct Queues {
    pub(crate) js: jetstream::Context,
    pub(crate) results: kv::Store,
    pub(crate) modules: object_store::ObjectStore,
    pub(crate) config: QueueConfig,
}

impl std::fmt::Debug for Queues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queues")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Queues {
    /// Connects to the server at `url` and makes what is missing: the
    /// work-queue stream `OANIX_JOBS` (file storage, message ids
    /// deduplicated for two minutes), the results bucket and the module
    /// store. (Workers make the consumers.)
    ///
    /// # Errors
    /// [`NatsError::Nats`] when the server cannot be reached or refuses.
    pub async fn connect(url: &str, config: QueueConfig) -> Result<Self> {
        let client = async_nats::ConnectOptions::new()
            .retry_on_initial_connect()
            .max_reconnects(None)
            .connection_timeout(Duration::from_secs(5))
            .connect(url)
            .await
            .map_err(|e| NatsError::nats(format!("connecting to {url}"), e))?;
        let js = jetstream::new(client);
        ensure_stream(
            &js,
            stream::Config {
                name: STREAM.into(),
                subjects: vec!["oanix.jobs.>".into()],
                retention: stream::RetentionPolicy::WorkQueue,
                storage: stream::StorageType::File,
                duplicate_window: Duration::from_secs(120),
                ..Default::default()
            },
        )
        .await?;
        // The bucket's stream is made here rather than by `create_key_value`,
        // which first asks for the account's limits in a form servers before
        // 2.10 do not give (Debian's nats-server is 2.9). The settings are
        // those of a key-value bucket with one value per key.
        ensure_stream(
            &js,
            stream::Config {
                name: format!("KV_{RESULTS}"),
                subjects: vec![format!("$KV.{RESULTS}.>")],
                max_messages_per_subject: 1,
                storage: stream::StorageType::File,
                allow_rollup: true,
                deny_delete: true,
                allow_direct: true,
                discard: stream::DiscardPolicy::New,
                ..Default::default()
            },
        )
        .await?;
        let results = js
            .get_key_value(RESULTS)
            .await
            .map_err(|e| NatsError::nats(format!("the bucket {RESULTS}"), e))?;
        let modules = match js.get_object_store(MODULES).await {
            Ok(store) => store,
            Err(_) => {
                let made = js
                    .create_object_store(object_store::Config {
                        bucket: MODULES.into(),
                        storage: stream::StorageType::File,
                        ..Default::default()
                    })
                    .await;
                match made {
                    Ok(store) => store,
                    // Another process made it meanwhile.
                    Err(e) => js
                        .get_object_store(MODULES)
                        .await
                        .map_err(|_| NatsError::nats(format!("the object store {MODULES}"), e))?,
                }
            }
        };
        Ok(Self {
            js,
            results,
            modules,
            config,
        })
    }

    /// The delivery settings.
    pub fn config(&self) -> &QueueConfig {
        &self.config
    }

    /// The result written for job `id`, if any.
    ///
    /// # Errors
    /// [`NatsError::Nats`] when the bucket cannot be read.
    pub async fn result(&self, id: &str) -> Result<Option<JobResult>> {
        let entry = self
            .results
            .get(id)
            .await
            .map_err(|e| NatsError::nats(format!("reading the result of {id}"), e))?;
        Ok(entry.and_then(|b| serde_json::from_slice(&b).ok()))
    }
}

/// The stream `config` names, made if missing. Processes that start
/// together race to make it: one whose make fails because another's came
/// first takes the stream that is there.
async fn ensure_stream(js: &jetstream::Context, config: stream::Config) -> Result<()> {
    let name = config.name.clone();
    match js.get_or_create_stream(config).await {
        Ok(_) => Ok(()),
        Err(e) => match js.get_stream(&name).await {
            Ok(_) => Ok(()),
            Err(_) => Err(NatsError::nats(format!("the stream {name}"), e)),
        },
    }
}

/// Writes `result` under its job id unless a result is there: whether it
/// was written.
pub(crate) async fn put_result(
    results: &kv::Store,
    result: &JobResult,
) -> std::result::Result<bool, NatsError> {
    let bytes = serde_json::to_vec(result)
        .map_err(|e| NatsError::nats(format!("encoding the result of {}", result.id), e))?;
    match results.create(&result.id, bytes.into()).await {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(NatsError::nats(
            format!("writing the result of {}", result.id),
            e,
        )),
    }
}
