//! The command line: `serve`, `migrate`, `seed`, `user`, `partner`, `reindex`, `eval-search`,
//! `export-schema`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use sea_orm::{EntityTrait, PaginatorTrait};

use crate::config::Settings;
use crate::db::Db;
use crate::media::Media;
use crate::search::analytics::Analytics;
use crate::search::{Search, eval, indexer};
use crate::startup::{Application, shutdown_signal};
use crate::{schema, seed, telemetry};

/// Aeternum: a GraphQL backend-for-frontend for commerce.
#[derive(Parser, Debug)]
#[command(version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the GraphQL API.
    Serve(ServeArgs),
    /// Apply pending database migrations.
    Migrate,
    /// Load data into the catalog.
    Seed(SeedArgs),
    /// Manage accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage partners and their operation manifests.
    #[command(subcommand)]
    Partner(PartnerCommand),
    /// Rebuild the vector index from the catalog (unchanged texts reuse their stored vectors).
    Reindex,
    /// Score search relevance on the demo catalog against a judged query set (nDCG@10,
    /// recall@10 for lexical, vector and hybrid search).
    EvalSearch {
        /// TSV of query, product title and grade (0 to 3).
        #[arg(long, default_value = "bench/search/judged.tsv")]
        judgements: PathBuf,
        /// An empty database to score on (PostgreSQL, say) instead of a temporary SQLite file;
        /// it is migrated, given the demo catalog and left as it is.
        #[arg(long)]
        database_url: Option<String>,
    },
    /// Compare the embedded HNSW index with the exact scan on the catalog's stored vectors:
    /// recall@10, build time, graph size and search time.
    VectorRecall {
        /// A shopper query to compare on (repeatable).
        #[arg(long = "query")]
        queries: Vec<String>,
        /// How many stored product vectors to use as queries too.
        #[arg(long, default_value_t = 500)]
        samples: usize,
    },
    /// Print the GraphQL schema (SDL).
    ExportSchema {
        /// Write to this file instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// Account commands.
#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create an account with any role (the way to make the first admin). The password is read
    /// from AETERNUM_NEW_USER_PASSWORD or, when unset, from the first line of standard input;
    /// there is no default password.
    Create {
        /// Email address.
        #[arg(long)]
        email: String,
        /// The account's role.
        #[arg(long, value_enum)]
        role: RoleArg,
        /// The vendor's slug, for a vendor account.
        #[arg(long)]
        vendor: Option<String>,
        /// Display name (defaults to the email's local part).
        #[arg(long)]
        name: Option<String>,
    },
}

/// Partner commands.
#[derive(Subcommand, Debug)]
pub enum PartnerCommand {
    /// Create a partner (then issue it keys with the `issueApiKey` mutation).
    Create {
        /// Unique handle: 1 to 64 of a-z, 0-9 and `-`.
        #[arg(long)]
        slug: String,
        /// Display name.
        #[arg(long)]
        name: String,
    },
    /// A partner's operation manifest.
    #[command(subcommand)]
    Manifest(ManifestCommand),
}

/// Manifest commands.
#[derive(Subcommand, Debug)]
pub enum ManifestCommand {
    /// Register a manifest file (as `generate-persisted-query-manifest` writes it) as the
    /// partner's next version, and make it the active one.
    Import {
        /// The partner's slug.
        #[arg(long)]
        partner: String,
        /// Register it without making it the version the partner's keys run.
        #[arg(long)]
        no_activate: bool,
        /// The manifest file (JSON).
        file: PathBuf,
    },
    /// Make a registered version the one the partner's keys run (to roll forward or back).
    Activate {
        /// The partner's slug.
        #[arg(long)]
        partner: String,
        /// The version.
        #[arg(long)]
        version: i32,
    },
}

/// Largest manifest file read.
const MAX_MANIFEST_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// A role, as `user create --role` spells it.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum RoleArg {
    /// A shopper.
    Customer,
    /// A seller, tied to one vendor with `--vendor`.
    Vendor,
    /// Runs the marketplace.
    Staff,
    /// Everything, including accounts.
    Admin,
}

impl From<RoleArg> for entity::Role {
    fn from(role: RoleArg) -> Self {
        match role {
            RoleArg::Customer => Self::Customer,
            RoleArg::Vendor => Self::Vendor,
            RoleArg::Staff => Self::Staff,
            RoleArg::Admin => Self::Admin,
        }
    }
}

/// Options of `serve`.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on (default 127.0.0.1:8080, or `bind` from the configuration).
    #[arg(long)]
    pub bind: Option<SocketAddr>,
    /// Do not apply pending migrations on start.
    #[arg(long)]
    pub no_migrate: bool,
    /// Load the demo catalog first when the catalog is empty.
    #[arg(long)]
    pub demo: bool,
}

/// Options of `seed`: the demo catalog, or synthetic products and orders.
#[derive(Args, Debug)]
#[group(skip)]
#[command(group(clap::ArgGroup::new("what").required(true).multiple(true)))]
pub struct SeedArgs {
    /// The demo catalog: a deterministic circular-fashion marketplace.
    #[arg(long, group = "what", conflicts_with_all = ["products", "orders"])]
    pub demo: bool,
    /// A synthetic catalog of this many products, for load tests.
    #[arg(long, value_name = "N", group = "what")]
    pub products: Option<u64>,
    /// Give each product of `--products` a paragraph of its own as description (about 70
    /// words), as a catalog of one-off pieces has, instead of one of 480 shared texts: reindexing
    /// then embeds every product.
    #[arg(long, requires = "products")]
    pub paragraphs: bool,
    /// A synthetic order history of this many orders over the listed products (after
    /// `--products` when both are given), for the admin dashboard's load tests. Stock is left
    /// as it is and no payments are written.
    #[arg(long, value_name = "N", group = "what")]
    pub orders: Option<u64>,
    /// Average lines per order of `--orders` (from 1 to twice this less one).
    #[arg(long, value_name = "N", default_value_t = 3, requires = "orders",
          value_parser = clap::value_parser!(u32).range(1..=50))]
    pub lines_per_order: u32,
    /// Days back over which `--orders` are placed, evenly.
    #[arg(long, value_name = "N", default_value_t = 90, requires = "orders",
          value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub days: u32,
}

/// Runs a parsed command line.
///
/// # Errors
/// Whatever the command failed on.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings::load()?;
    telemetry::init(&settings.log);
    match cli.command {
        Command::Serve(args) => serve(settings, args).await,
        Command::Migrate => {
            migrated(&settings).await?;
            tracing::info!("migrations applied");
            Ok(())
        }
        Command::Seed(args) => {
            let db = migrated(&settings).await?;
            if args.demo {
                seed::demo::load(&db).await?;
            }
            if let Some(count) = args.products {
                let texts =
                    if args.paragraphs { seed::synthetic::Texts::Paragraphs } else { seed::synthetic::Texts::Shared };
                seed::synthetic::load(&db, count, texts).await?;
            }
            if args.demo || args.products.is_some() {
                let media = Media::from_settings(&settings.media, &format!("http://{}/media", settings.bind)).await?;
                crate::media::demo::ensure_placeholders(&media).await?;
            }
            if let Some(count) = args.orders {
                seed::history::load(&db, count, args.lines_per_order, args.days).await?;
            }
            Ok(())
        }
        Command::User(UserCommand::Create { email, role, vendor, name }) => {
            create_user(&settings, &email, role, vendor.as_deref(), name).await
        }
        Command::Partner(command) => partner(&settings, command).await,
        Command::Reindex => reindex(&settings).await,
        Command::EvalSearch { judgements, database_url } => eval_search(settings, &judgements, database_url).await,
        Command::VectorRecall { queries, samples } => vector_recall(&settings, &queries, samples).await,
        Command::ExportSchema { out } => {
            let sdl = schema::sdl();
            match out {
                Some(path) => std::fs::write(&path, sdl).with_context(|| format!("cannot write {}", path.display())),
                None => write_stdout(&sdl),
            }
        }
    }
}

/// The configured store with every migration applied.
async fn migrated(settings: &Settings) -> anyhow::Result<Db> {
    let db = Db::connect(&settings.database).await?;
    db.migrate().await?;
    Ok(db)
}

fn write_stdout(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    std::io::stdout().write_all(text.as_bytes()).context("cannot write to standard output")
}

async fn serve(mut settings: Settings, args: ServeArgs) -> anyhow::Result<()> {
    if let Some(bind) = args.bind {
        settings.bind = bind;
    }
    if args.no_migrate {
        settings.migrate_on_start = false;
    }
    let db = Db::connect(&settings.database).await?;
    if settings.migrate_on_start || args.demo {
        db.migrate().await?;
    }
    if args.demo {
        seed::demo::load_if_empty(&db).await?;
    }
    let app = Application::build_with_db(settings, db).await?;
    if args.demo {
        crate::media::demo::ensure_placeholders(&app.media()).await?;
    }
    app.run_until_stopped(shutdown_signal()).await
}

/// `user create`: the password from `AETERNUM_NEW_USER_PASSWORD`, else standard input's first
/// line; the account obeys the same rules as one created through the API.
async fn create_user(
    settings: &Settings,
    email: &str,
    role: RoleArg,
    vendor: Option<&str>,
    name: Option<String>,
) -> anyhow::Result<()> {
    let db = migrated(settings).await?;
    let password = match std::env::var("AETERNUM_NEW_USER_PASSWORD") {
        Ok(password) => password,
        Err(_) => {
            let mut line = String::new();
            std::io::stdin().read_line(&mut line).context("cannot read the password from standard input")?;
            line.trim_end_matches(['\r', '\n']).to_owned()
        }
    };
    let refused = crate::error::AppError::into_anyhow;
    let vendor_id = match vendor {
        Some(slug) => Some(crate::catalog::service::vendor_by_slug(&db, slug).await.map_err(refused)?.id),
        None => None,
    };
    let name = name.unwrap_or_else(|| email.split('@').next().unwrap_or("admin").to_owned());
    let user = crate::identity::service::create_user(&db, email, &password, &name, role.into(), vendor_id)
        .await
        .map_err(refused)?;
    tracing::info!(user.id = %user.id, role = ?user.role, "account created");
    Ok(())
}

async fn partner(settings: &Settings, command: PartnerCommand) -> anyhow::Result<()> {
    use crate::partner::{manifest, service};
    let db = migrated(settings).await?;
    let refused = crate::error::AppError::into_anyhow;
    let client = crate::identity::viewer::ClientInfo::default();
    let actor = service::Actor { id: None, client: &client };
    match command {
        PartnerCommand::Create { slug, name } => {
            let partner = service::create(&db, &actor, &slug, &name).await.map_err(refused)?;
            tracing::info!(partner = partner.slug, "partner created");
        }
        PartnerCommand::Manifest(ManifestCommand::Import { partner, no_activate, file }) => {
            let size = std::fs::metadata(&file).with_context(|| format!("cannot read {}", file.display()))?.len();
            anyhow::ensure!(size <= MAX_MANIFEST_FILE_BYTES, "{} is larger than 64 MiB", file.display());
            let text = std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let json = serde_json::from_str(&text).with_context(|| format!("{} is not JSON", file.display()))?;
            let partner = service::by_slug(&db, &partner).await.map_err(refused)?;
            let manifest = manifest::read(json).map_err(refused)?;
            let check = schema::partners::SchemaCheck::new(settings);
            let registered =
                service::register(&db, &check, &actor, &partner, manifest, !no_activate).await.map_err(refused)?;
            tracing::info!(
                partner = partner.slug,
                version = registered.version,
                operations = registered.operations,
                active = !no_activate,
                "manifest registered"
            );
        }
        PartnerCommand::Manifest(ManifestCommand::Activate { partner, version }) => {
            let partner = service::by_slug(&db, &partner).await.map_err(refused)?;
            service::activate(&db, &actor, &partner, version).await.map_err(refused)?;
            tracing::info!(partner = partner.slug, version, "manifest activated");
        }
    }
    Ok(())
}

async fn reindex(settings: &Settings) -> anyhow::Result<()> {
    let db = migrated(settings).await?;
    let mut search_settings = settings.search.clone();
    if let crate::config::VectorIndexSettings::Embedded { method } = &mut search_settings.vector_index {
        // The servers load the stored vectors at start; this process's copy is thrown away, so
        // it need not spend the cores linking a graph.
        *method = crate::config::EmbeddedMethod::Exact;
    }
    let search = Search::from_settings(&search_settings, Analytics::default())?;
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} products, {per_sec}, {eta} left")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let indexed = indexer::reindex(&db, &search, |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    })
    .await?;
    bar.finish();
    tracing::info!(indexed, "vector index rebuilt");
    Ok(())
}

/// `vector-recall`: the approximate index against the exact scan, one line of figures.
async fn vector_recall(settings: &Settings, queries: &[String], samples: usize) -> anyhow::Result<()> {
    let db = migrated(settings).await?;
    let search = Search::from_settings(&settings.search, Analytics::default())?;
    let report = crate::search::recall::compare(&db, &search, queries, samples).await;
    db.close().await;
    let report = report?;
    write_stdout(&format!(
        "recall      HNSW recall@10 against the exact scan: {:.3} on {} shopper queries, {:.3} on {samples} \
         product neighbourhoods; {} vectors linked in {:.1} s, graph {:.1} MiB; one search {:.2} ms (exact {:.2} ms)\n",
        report.query_recall,
        queries.len(),
        report.neighbour_recall,
        report.points,
        report.build_seconds,
        report.graph_bytes as f64 / 1_048_576.0,
        report.median_ms.0,
        report.median_ms.1,
    ))
}

/// `eval-search`: the demo catalog in `database_url` (an empty database) or in a temporary
/// SQLite file, indexed and scored; the temporary file is removed.
async fn eval_search(mut settings: Settings, judgements: &Path, database_url: Option<String>) -> anyhow::Result<()> {
    let judgements = eval::read_judgements(judgements)?;
    let file = std::env::temp_dir().join(format!("aeternum-eval-{}.db", uuid::Uuid::now_v7()));
    let temporary = database_url.is_none();
    let url = database_url.unwrap_or_else(|| format!("sqlite://{}?mode=rwc", file.display()));
    settings.database.url = crate::config::Secret::new(url);
    let db = Db::connect(&settings.database).await?;
    let outcome = async {
        db.migrate().await?;
        if entity::product::Entity::find().count(db.conn()).await? > 0 {
            anyhow::bail!("eval-search needs an empty database: it loads the demo catalog itself");
        }
        seed::demo::load(&db).await?;
        let search = Search::from_settings(&settings.search, Analytics::default())?;
        indexer::reindex(&db, &search, |_, _| {}).await?;
        eval::evaluate(&db, &search, &judgements).await
    }
    .await;
    db.close().await;
    if temporary {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
        }
    }
    let mut report = format!(
        "{} judged queries, demo catalog on {}\nmode      nDCG@10  recall@10\n",
        judgements.len(),
        if temporary { "SQLite" } else { "the given database" }
    );
    for (sides, scores) in outcome? {
        report.push_str(&format!("{:<9} {:>7.3}  {:>9.3}\n", sides.name().to_lowercase(), scores.ndcg, scores.recall));
    }
    write_stdout(&report)
}
