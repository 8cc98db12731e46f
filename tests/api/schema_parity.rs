//! The two migration folders build the same store. Every SQL text runs on both engines, so a
//! table or column that one folder adds and the other forgets (or makes nullable on one side
//! only) breaks the engine nobody tried. This compares the migrated schemas: tables, columns,
//! whether each column may be null and the kind of value it holds.

use std::collections::BTreeMap;

use sqlx::Row;

use crate::helpers::{Backend, TestApp};

/// A column as both engines can describe it: may it be null, and integer, real or text.
type Columns = BTreeMap<String, (bool, &'static str)>;

/// The broad kind of a declared type, the level at which the folders must agree (SQLite's
/// `integer` is PostgreSQL's `bigint`, `text` may be `varchar`).
fn kind(declared: &str) -> &'static str {
    let t = declared.to_ascii_lowercase();
    if t.contains("int") || t == "boolean" || t == "bool" {
        "integer"
    } else if t.contains("real") || t.contains("double") || t.contains("float") || t == "numeric" {
        "real"
    } else if t.contains("char") || t.contains("text") || t.contains("json") {
        "text"
    } else if t.contains("blob") || t.contains("bytea") {
        "bytes"
    } else {
        "other"
    }
}

async fn sqlite_schema(app: &TestApp) -> BTreeMap<String, Columns> {
    let tables: Vec<String> = sqlx::query_scalar(
        "select name from sqlite_master where type = 'table' \
         and name not like 'sqlite_%' and name not like '_sqlx%' order by name",
    )
    .fetch_all(&app.store.pool)
    .await
    .unwrap();
    let mut schema = BTreeMap::new();
    for table in tables {
        // Table names come from the store's own catalogue, not from input.
        let rows = sqlx::query(&format!(
            "select name, type, \"notnull\" as not_null, pk from pragma_table_info('{table}')"
        ))
        .fetch_all(&app.store.pool)
        .await
        .unwrap();
        let columns = rows
            .iter()
            .map(|r| {
                let name: String = r.try_get("name").unwrap();
                let declared: String = r.try_get("type").unwrap();
                let not_null: i64 = r.try_get("not_null").unwrap();
                let pk: i64 = r.try_get("pk").unwrap();
                // A primary key is never null on PostgreSQL, whatever SQLite's pragma says.
                (name, (not_null == 0 && pk == 0, kind(&declared)))
            })
            .collect();
        schema.insert(table, columns);
    }
    schema
}

async fn postgres_schema(app: &TestApp) -> BTreeMap<String, Columns> {
    let rows = sqlx::query(
        "select table_name::text as t, column_name::text as c, is_nullable::text as n, \
         data_type::text as d from information_schema.columns \
         where table_schema = current_schema() and table_name not like '_sqlx%' \
         order by table_name, ordinal_position",
    )
    .fetch_all(&app.store.pool)
    .await
    .unwrap();
    let mut schema: BTreeMap<String, Columns> = BTreeMap::new();
    for r in rows {
        let table: String = r.try_get("t").unwrap();
        let column: String = r.try_get("c").unwrap();
        let nullable: String = r.try_get("n").unwrap();
        let declared: String = r.try_get("d").unwrap();
        schema
            .entry(table)
            .or_default()
            .insert(column, (nullable == "YES", kind(&declared)));
    }
    schema
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_migration_folders_build_the_same_tables_and_columns() {
    let Some(postgres) = TestApp::spawn(Backend::Postgres).await else {
        return;
    };
    let sqlite = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let (lite, pg) = (
        sqlite_schema(&sqlite).await,
        postgres_schema(&postgres).await,
    );
    assert!(
        lite.len() > 20,
        "the SQLite schema was read: {:?}",
        lite.keys()
    );
    let only_lite: Vec<_> = lite.keys().filter(|t| !pg.contains_key(*t)).collect();
    let only_pg: Vec<_> = pg.keys().filter(|t| !lite.contains_key(*t)).collect();
    assert!(
        only_lite.is_empty() && only_pg.is_empty(),
        "tables only on SQLite: {only_lite:?}; only on PostgreSQL: {only_pg:?}"
    );
    let mut differences = Vec::new();
    for (table, columns) in &lite {
        let theirs = &pg[table];
        for (column, shape) in columns {
            match theirs.get(column) {
                None => differences.push(format!("{table}.{column} only on SQLite")),
                Some(other) if other != shape => differences.push(format!(
                    "{table}.{column}: SQLite (nullable, kind) {shape:?}, PostgreSQL {other:?}"
                )),
                Some(_) => {}
            }
        }
        for column in theirs.keys().filter(|c| !columns.contains_key(*c)) {
            differences.push(format!("{table}.{column} only on PostgreSQL"));
        }
    }
    assert!(
        differences.is_empty(),
        "the migration folders disagree:\n{}",
        differences.join("\n")
    );
}
