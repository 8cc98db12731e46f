//! What several benchmarks share: a throwaway PostgreSQL database.

use std::time::Duration;

/// A fresh PostgreSQL database (and the admin URL to drop it with), or why there is none.
pub async fn fresh_postgres() -> Result<(String, String, String), String> {
    let admin = std::env::var("TAVLA_BENCH_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    sqlx::any::install_default_drivers();
    let pool =
        match tokio::time::timeout(Duration::from_secs(5), sqlx::AnyPool::connect(&admin)).await {
            Ok(Ok(pool)) => pool,
            Ok(Err(e)) => return Err(format!("{admin} does not answer: {e}")),
            Err(_) => return Err(format!("{admin} did not answer within 5 s")),
        };
    let name = format!("tavla_bench_{:016x}", rand::random::<u64>());
    sqlx::query(&format!("create database {name}"))
        .execute(&pool)
        .await
        .map_err(|e| format!("cannot create {name}: {e}"))?;
    pool.close().await;
    let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
    let url = format!("{base}/{name}");
    Ok((admin, name, url))
}

/// Drops the database made by `fresh_postgres`, saying so when it cannot.
pub async fn drop_postgres(admin: &str, name: &str) {
    let dropped = async {
        let pool = sqlx::AnyPool::connect(admin).await?;
        sqlx::query(&format!("drop database if exists {name} with (force)"))
            .execute(&pool)
            .await?;
        pool.close().await;
        Ok::<_, sqlx::Error>(())
    };
    if let Err(e) = dropped.await {
        eprintln!("could not drop the benchmark database {name}: {e}; drop it by hand");
    }
}
