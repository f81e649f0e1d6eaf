//! The connection to Redis: made on first use, made again after any failure, and every call
//! bounded by [`COMMAND_TIMEOUT`] so a hung server fails the call instead of hanging it.

use ::redis::aio::MultiplexedConnection;
use ::redis::{FromRedisValue, RedisResult, ScriptInvocation};

use super::{storage, SpoolError, COMMAND_TIMEOUT};

pub(super) struct Link {
    client: ::redis::Client,
    connection: tokio::sync::Mutex<Option<MultiplexedConnection>>,
}

impl Link {
    /// Parses the URL; connects on first use.
    pub fn new(url: &str) -> Result<Self, SpoolError> {
        // The URL is never echoed: it may hold a password.
        let client = ::redis::Client::open(url)
            .map_err(|e| storage(format_args!("not a usable redis URL ({:?})", e.kind())))?;
        Ok(Link {
            client,
            connection: tokio::sync::Mutex::new(None),
        })
    }

    /// The shared connection, made on first use and made again after a failure.
    async fn connection(&self) -> Result<MultiplexedConnection, SpoolError> {
        let mut slot = self.connection.lock().await;
        if let Some(connection) = slot.as_ref() {
            return Ok(connection.clone());
        }
        // The crate's own response timeout (half a second by default) would fail a long script
        // on a busy server; [`Self::timed`] applies ours instead.
        let config = ::redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(COMMAND_TIMEOUT))
            .set_response_timeout(None);
        let connection = tokio::time::timeout(
            COMMAND_TIMEOUT,
            self.client
                .get_multiplexed_async_connection_with_config(&config),
        )
        .await
        .map_err(|_| storage("connect timed out"))?
        .map_err(storage)?;
        *slot = Some(connection.clone());
        Ok(connection)
    }

    /// Awaits a call with the timeout; any failure drops the connection so the next call
    /// reconnects.
    async fn timed<T>(
        &self,
        call: impl std::future::Future<Output = RedisResult<T>>,
    ) -> Result<T, SpoolError> {
        let failed = match tokio::time::timeout(COMMAND_TIMEOUT, call).await {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(error)) => storage(error),
            Err(_) => storage(format_args!(
                "no answer within {} s",
                COMMAND_TIMEOUT.as_secs()
            )),
        };
        *self.connection.lock().await = None;
        Err(failed)
    }

    pub async fn command<T: FromRedisValue>(
        &self,
        command: &::redis::Cmd,
    ) -> Result<T, SpoolError> {
        let mut connection = self.connection().await?;
        self.timed(command.query_async(&mut connection)).await
    }

    pub async fn invoke<T: FromRedisValue>(
        &self,
        invocation: &ScriptInvocation<'_>,
    ) -> Result<T, SpoolError> {
        let mut connection = self.connection().await?;
        self.timed(invocation.invoke_async(&mut connection)).await
    }
}
