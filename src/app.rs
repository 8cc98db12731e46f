//! Building and running the service: the store, the group committer and the HTTP server.
//! `Application::build` binds before it returns, so tests can ask for port 0 and learn the port.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::access::hashing::PasswordHashing;
use crate::access::training::TrainingConfig;
use crate::http::{routers, AppState};
use crate::ingest::Ingestor;
use crate::search::{indexer, SearchIndex};
use crate::settings::Settings;
use crate::store::Store;

pub struct Application {
    listener: TcpListener,
    /// `/metrics` on an address of its own, when `metrics_listen` names one.
    metrics_listener: Option<TcpListener>,
    state: AppState,
    shutdown_tx: watch::Sender<bool>,
    /// Tasks that end on shutdown and are awaited, so the next start finds their files free.
    background: Vec<tokio::task::JoinHandle<()>>,
    /// Held while serving a SQLite store, so `tavla restore` cannot replace it underneath.
    serve_lock: Option<crate::ops::backup::ServeLock>,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        settings.require_webhook_secret()?;
        let store = Store::connect(settings.database_url.expose()).await?;
        store.migrate().await?;
        Self::build_with_store(settings, store).await
    }

    pub async fn build_with_store(
        settings: Settings,
        mut store: Store,
    ) -> anyhow::Result<Application> {
        let name = crate::store::plain_name(&settings.instance_name, 64);
        if !name.is_empty() {
            store.instance = name.into();
        }
        if let Some(warning) = store.log_readers_blind_spot().await? {
            tracing::warn!("{warning}");
        }
        let serve_lock = crate::ops::backup::ServeLock::take(&settings)?;
        let listener = TcpListener::bind(&settings.listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", settings.listen))?;
        let metrics_listen = settings.metrics_listen.trim();
        let metrics_listener = match metrics_listen {
            "" => None,
            address => Some(TcpListener::bind(address).await.map_err(|e| {
                anyhow::anyhow!("cannot listen on {address} (metrics_listen): {e}")
            })?),
        };
        let moderation = Arc::new(crate::moderation::service::Moderation::load(&settings)?);
        moderation.remember_routines(&store).await?;
        let ingestor = Ingestor::start(
            store.clone(),
            settings.max_text_chars,
            settings.ingest_batch_max,
            Some(moderation.clone()),
        );
        let training = TrainingConfig::load(&settings.training_file)?;
        let (shutdown_tx, shutdown) = watch::channel(false);
        let index = Arc::new(SearchIndex::open(&settings.data_dir.join("search"))?);
        let (seq_tx, indexed_seq) = watch::channel(index.indexed_seq());
        let follower = tokio::spawn(indexer::follow(
            store.clone(),
            index.clone(),
            seq_tx,
            shutdown.clone(),
        ));
        let delivery_failures = Arc::new(crate::metrics::DeliveryFailures::default());
        let delivery = crate::outbound::start(
            store.clone(),
            crate::outbound::DeliveryConfig::from_settings(&settings),
            delivery_failures.clone(),
            shutdown.clone(),
        )?;
        // FAQ clusters are derived: restored from the stored placements now, then kept current
        // from the log; questions the store holds unplaced are placed in the background.
        let faq = Arc::new(
            crate::faq::signals::FaqSignals::build(
                &store,
                crate::faq::cluster::ClusterConfig {
                    kept_questions: settings.faq_kept_questions,
                    ..Default::default()
                },
            )
            .await?,
        );
        let faq_follower = tokio::spawn(crate::faq::signals::follow(
            store.clone(),
            faq.clone(),
            std::time::Duration::from_secs(600),
            crate::faq::signals::PlacingPace {
                batch: settings.faq_placing_batch,
                pause: std::time::Duration::from_millis(settings.faq_placing_pause_ms),
            },
            shutdown.clone(),
        ));
        // Urgent cases reach the on-call moderator through an incoming webhook, when one is set.
        let alerts = (!settings.moderation_alert_url.is_blank()).then(|| {
            let delivery = crate::outbound::DeliveryConfig::from_settings(&settings);
            tokio::spawn(crate::moderation::cases::alert_on_call(
                store.clone(),
                settings.moderation_alert_url.expose().clone(),
                // Backoff as for deliveries, but never giving up: an urgent case is not dropped.
                crate::outbound::RetryPolicy {
                    max_attempts: i64::MAX,
                    ..delivery.policy
                },
                shutdown.clone(),
            ))
        });
        let retention = Arc::new(crate::privacy::rules::RetentionRules::load(
            &settings.retention_file,
        )?);
        // Gallring by rule, daily with the real clock (tests call the function with their own).
        let retention_job = (settings.retention_every_hours > 0).then(|| {
            tokio::spawn(crate::privacy::retention::daily(
                store.clone(),
                retention.clone(),
                std::time::Duration::from_secs(settings.retention_first_run_seconds),
                std::time::Duration::from_secs(settings.retention_every_hours * 3600),
                shutdown.clone(),
            ))
        });
        // Post follow-up: the channels' own posts and figures, fetched on a schedule.
        let posts_job = (settings.posts_refresh_every_minutes > 0).then(|| {
            tokio::spawn(crate::posts::scheduled(
                store.clone(),
                crate::posts::FetchConfig::from_settings(&settings),
                std::time::Duration::from_secs(settings.posts_refresh_first_run_seconds),
                std::time::Duration::from_secs(settings.posts_refresh_every_minutes * 60),
                shutdown.clone(),
            ))
        });
        // Outgoing webhooks to the organisation's own systems, from the event log.
        let integrations = Arc::new(crate::outbound::integrations::Integrations::load(
            &settings.integrations_file,
        )?);
        let webhooks = crate::outbound::integrations::start(
            store.clone(),
            integrations.clone(),
            crate::outbound::DeliveryConfig::from_settings(&settings),
            delivery_failures.clone(),
            shutdown.clone(),
        )
        .await?;
        let (feed, feed_task) =
            crate::http::feed::LiveFeed::start(store.clone(), shutdown.clone()).await?;
        let limits = Arc::new(crate::http::overload::Limits::from_settings(&settings));
        let password_hashing = Arc::new(PasswordHashing::new(
            settings.password_hash_concurrency,
            std::time::Duration::from_millis(settings.password_hash_wait_ms),
        ));
        let oidc = crate::access::oidc::OidcConfig::from_settings(&settings)?
            .map(crate::access::oidc::Provider::new)
            .transpose()?
            .map(Arc::new);
        let state = AppState {
            store,
            ingestor,
            settings: Arc::new(settings),
            training: Arc::new(training),
            moderation,
            faq,
            retention,
            search: index,
            indexed_seq,
            shutdown,
            limits,
            feed,
            password_hashing,
            delivery_failures,
            integrations,
            oidc,
        };
        Ok(Application {
            serve_lock,
            listener,
            metrics_listener,
            state,
            shutdown_tx,
            background: std::iter::once(follower)
                .chain(delivery)
                .chain(alerts)
                .chain(retention_job)
                .chain(posts_job)
                .chain(Some(faq_follower))
                .chain(Some(feed_task))
                .chain(webhooks)
                .collect(),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Where `/metrics` is served on its own, if `metrics_listen` is set.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
    }

    pub fn store(&self) -> &Store {
        &self.state.store
    }

    /// Serves until `stop` resolves, then lets requests in flight finish and closes the store.
    pub async fn run_until(
        self,
        stop: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Application {
            listener,
            metrics_listener,
            state,
            shutdown_tx,
            background,
            serve_lock,
        } = self;
        let store = state.store.clone();
        let mut shutdown = state.shutdown.clone();
        let (app, metrics) = routers(state);
        // The metrics listener stops with the service (when the shutdown flag flips).
        let metrics_server = metrics_listener.map(|listener| {
            tokio::spawn(async move {
                let stopped = async move {
                    let _ = shutdown.wait_for(|stopping| *stopping).await;
                };
                if let Err(e) = axum::serve(listener, metrics)
                    .with_graceful_shutdown(stopped)
                    .await
                {
                    tracing::error!(error = %e, "the metrics listener failed");
                }
            })
        });
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            stop.await;
            tracing::info!("shutting down: finishing requests in flight");
            let _ = shutdown_tx.send(true);
        })
        .await?;
        for task in background.into_iter().chain(metrics_server) {
            let _ = task.await;
        }
        store.close().await;
        drop(serve_lock);
        Ok(())
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
