//! What several benchmarks share: a throwaway PostgreSQL database and a seedable generator.
//! Each benchmark compiles this module on its own and uses part of it.
#![allow(dead_code)]

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

/// splitmix64: tiny and seedable. A generator per item lets a benchmark regenerate item i exactly
/// (the search bench's PostgreSQL pass) instead of keeping a million strings in memory.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let z = (self.0 ^ (self.0 >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        let z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    pub fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len() as u64) as usize]
    }

    /// Skewed towards small values: a few channels and authors write most, as in life.
    pub fn skewed(&mut self, n: u64, power: f64) -> u64 {
        ((n as f64 * self.unit().powf(power)) as u64).min(n - 1)
    }
}

/// CPU seconds (user and system) in a `/proc/…/stat` file of a process or thread: on a machine
/// shared with other work, CPU per message says more than messages per second.
pub fn cpu_seconds_in(stat_path: &str) -> f64 {
    let stat = std::fs::read_to_string(stat_path).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at the state, field 3.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15: 12 and 13 after the state. Linux counts 100 a second.
    (ticks(11) + ticks(12)) / 100.0
}
