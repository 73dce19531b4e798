//! The configuration layers and the adapter settings, read from defaults, a file and the
//! environment.

use super::*;

#[test]
#[allow(clippy::result_large_err)] // figment's test jail fixes the error type
fn layers_override_defaults_in_order() {
    figment::Jail::expect_with(|jail| {
        jail.create_file("aeternum.toml", "bind = \"0.0.0.0:9000\"\n[graphql]\nmax_depth = 7\n")?;
        jail.set_env("AETERNUM_GRAPHQL__MAX_DEPTH", "9");
        jail.set_env("DATABASE_URL", "postgres://u:p@127.0.0.1/db");
        let settings = Settings::load_from(jail.directory()).map_err(|e| e.to_string())?;
        assert_eq!(settings.bind, SocketAddr::from(([0, 0, 0, 0], 9000)));
        assert_eq!(settings.graphql.max_depth, 9);
        assert_eq!(settings.database.url.expose(), "postgres://u:p@127.0.0.1/db");
        assert_eq!(settings.graphql.max_page_size, 100);
        assert_eq!(settings.database.pool_size(), POSTGRES_POOL);
        jail.set_env("AETERNUM_DATABASE__MAX_CONNECTIONS", "3");
        let settings = Settings::load_from(jail.directory()).map_err(|e| e.to_string())?;
        assert_eq!(settings.database.pool_size(), 3);
        Ok(())
    });
}

#[test]
fn sqlite_gets_a_pool_sized_to_the_cores_unless_one_is_set() {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let mut database = Settings::default().database;
    assert!(database.url.expose().starts_with("sqlite:"));
    assert_eq!(database.pool_size() as usize, (2 * cores).max(4));
    database.max_connections = Some(32);
    assert_eq!(database.pool_size(), 32);
}

#[test]
#[allow(clippy::result_large_err)] // figment's test jail fixes the error type
fn adapters_are_chosen_by_kind_and_a_wrong_one_names_its_setting() {
    figment::Jail::expect_with(|jail| {
        jail.set_env("AETERNUM_SEARCH__EMBEDDER__KIND", "http");
        jail.set_env("AETERNUM_SEARCH__EMBEDDER__URL", "http://127.0.0.1:11434");
        jail.set_env("AETERNUM_SEARCH__EMBEDDER__MODEL", "all-minilm");
        jail.set_env("AETERNUM_SEARCH__EMBEDDER__API_KEY", "sk-hunter2");
        jail.set_env("AETERNUM_SEARCH__VECTOR_INDEX__KIND", "qdrant");
        jail.set_env("AETERNUM_SEARCH__VECTOR_INDEX__URL", "http://127.0.0.1:6334");
        let settings = Settings::load_from(jail.directory()).map_err(|e| e.to_string())?;
        let EmbedderSettings::Http { url, model, api_key, dimensions } = &settings.search.embedder else {
            panic!("an HTTP embedder, not {:?}", settings.search.embedder);
        };
        assert_eq!((url.as_str(), model.as_str(), *dimensions), ("http://127.0.0.1:11434", "all-minilm", 384));
        assert_eq!(api_key.as_ref().map(Secret::expose), Some("sk-hunter2"));
        assert!(!format!("{settings:?}").contains("hunter2"), "the key is redacted");
        let VectorIndexSettings::Qdrant { collection, .. } = &settings.search.vector_index else {
            panic!("a Qdrant index");
        };
        assert_eq!(collection, "aeternum_products");

        jail.clear_env();
        jail.set_env("AETERNUM_SEARCH__EMBEDDER__KIND", "none");
        let settings = Settings::load_from(jail.directory()).map_err(|e| e.to_string())?;
        assert!(matches!(settings.search.embedder, EmbedderSettings::None));

        jail.set_env("AETERNUM_SEARCH__EMBEDDER__KIND", "sentencepiece");
        let error = format!("{:#}", Settings::load_from(jail.directory()).err().ok_or("accepted")?).to_lowercase();
        assert!(error.contains("search.embedder") && error.contains("sentencepiece"), "{error}");

        jail.clear_env();
        jail.set_env("AETERNUM_SEARCH__VECTOR_INDEX__KIND", "qdrant");
        let error = format!("{:#}", Settings::load_from(jail.directory()).err().ok_or("accepted")?).to_lowercase();
        assert!(error.contains("search.vector_index") && error.contains("url"), "{error}");
        Ok(())
    });
}

#[test]
#[allow(clippy::result_large_err)] // figment's test jail fixes the error type
fn persisted_queries_proxies_and_limits_come_from_the_environment() {
    figment::Jail::expect_with(|jail| {
        let settings = Settings::load_from(jail.directory()).map_err(|e| e.to_string())?;
        assert!(matches!(
            settings.graphql.persisted_queries,
            PersistedQuerySettings::InProcess { max_entries: 10_000, .. }
        ));
        assert!(settings.http.trusted_proxies.is_empty(), "no proxy is trusted unless configured");

        jail.set_env("AETERNUM_GRAPHQL__PERSISTED_QUERIES__KIND", "redis");
        jail.set_env("AETERNUM_GRAPHQL__PERSISTED_QUERIES__URL", "redis://:hunter2@127.0.0.1:6379");
        jail.set_env("AETERNUM_HTTP__TRUSTED_PROXIES", "[\"10.0.0.0/8\", \"192.168.1.1\"]");
        jail.set_env("AETERNUM_LIMITS__ANONYMOUS__CAPACITY", "500");
        jail.set_env("AETERNUM_LIMITS__STORE__KIND", "redis");
        jail.set_env("AETERNUM_LIMITS__STORE__URL", "redis://:hunter2@127.0.0.1:6379");
        let settings = Settings::load_from(jail.directory()).map_err(|e| e.to_string())?;
        let PersistedQuerySettings::Redis { ttl_seconds, key_prefix, .. } = &settings.graphql.persisted_queries else {
            panic!("persisted queries in Redis, not {:?}", settings.graphql.persisted_queries);
        };
        assert_eq!((*ttl_seconds, key_prefix.as_str()), (604_800, "aeternum:apq:"));
        assert!(!format!("{settings:?}").contains("hunter2"), "the Redis password is redacted");
        assert_eq!(settings.http.trusted_proxies, ["10.0.0.0/8", "192.168.1.1"]);
        assert_eq!(settings.limits.anonymous, CostBucket { capacity: 500, restore_per_second: 1_000 });
        let LimiterSettings::Redis { key_prefix, timeout_ms, .. } = &settings.limits.store else {
            panic!("buckets in Redis, not {:?}", settings.limits.store);
        };
        assert_eq!((key_prefix.as_str(), *timeout_ms), ("aeternum:bucket:", 250));

        jail.set_env("AETERNUM_GRAPHQL__PERSISTED_QUERIES__KIND", "off");
        let settings = Settings::load_from(jail.directory()).map_err(|e| e.to_string())?;
        assert!(matches!(settings.graphql.persisted_queries, PersistedQuerySettings::Off));
        Ok(())
    });
}

#[test]
fn secrets_are_redacted_in_debug_output() {
    let settings = Settings {
        database: DatabaseSettings {
            url: Secret::new("postgres://user:hunter2@db/app"),
            ..Settings::default().database
        },
        ..Settings::default()
    };
    assert!(!format!("{settings:?}").contains("hunter2"));
}
