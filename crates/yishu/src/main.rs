//! `yishu`: the one binary of the platform. Every command and flag is defined here once; clap
//! derives `--help` from these definitions.

mod bench;
mod catalog;
mod config;
mod demo;
mod fusion;
mod quality;

use anyhow::{Context, Result, anyhow};
use clap::{Args, Parser, Subcommand};
use config::Config;
use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;
use yishu_meta::{AuditEntry, NewOrg, NewUser, OrgLevel, Store};
use yishu_types::{OrgId, Role};

/// mimalloc rather than the system allocator: reading picked rows allocates and frees a buffer
/// per decoded page, and glibc spent a sixth of an incremental run's CPU there.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exit codes, documented in `--help` and the README.
pub mod exit {
    /// The command did what was asked.
    pub const OK: u8 = 0;
    /// The command failed (message on stderr).
    pub const FAILED: u8 = 1;
    /// The command line was wrong (clap prints usage).
    pub const USAGE: u8 = 2;
    /// The configuration file or environment is wrong.
    pub const CONFIG: u8 = 3;
    /// `audit verify` found the chain altered or truncated.
    pub const AUDIT_BROKEN: u8 = 4;
}

#[derive(Parser)]
#[command(
    name = "yishu",
    version,
    about = "一数 Yishu — government data resource platform",
    after_help = "Exit codes: 0 ok, 1 failed, 2 usage error, 3 configuration error, 4 audit chain broken.\nEnvironment: YISHU_DATA_DIR, YISHU_LISTEN, YISHU_DATABASE_URL, YISHU_LAKE_ROOT, YISHU_SECURE_COOKIES override the config file."
)]
struct Cli {
    /// Configuration file (TOML).
    #[arg(long, global = true, env = "YISHU_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the API, console and portal over the configured data directory.
    Serve {
        /// Listen address (overrides the config).
        #[arg(long)]
        listen: Option<String>,
    },
    /// Generate a small synthetic city, load its organisations and users, and serve it.
    Demo(demo::DemoArgs),
    /// Synthetic data generators.
    #[command(subcommand)]
    Gen(GenCommand),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage organisations.
    #[command(subcommand)]
    Org(OrgCommand),
    /// Ingest a CSV file (UTF-8, GBK or GB18030) or a workbook sheet (XLSX, XLS, ODS) into a
    /// resource's ods table as one batch.
    Ingest(IngestArgs),
    /// The cataloguing workbook: template, export (XLSX or JSON), import.
    #[command(subcommand)]
    Catalog(catalog::CatalogCommand),
    /// Apply metadata-store migrations and exit.
    Migrate,
    /// Audit-log tools.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Benchmarks that print a comparison table.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Data quality: check batches, try rules, seed the national data elements.
    #[command(subcommand)]
    Quality(quality::QualityCommand),
    /// Fusion: the plan (sources, authorities, survivorship), runs, accuracy against a city's truth
    #[command(subcommand)]
    Fusion(fusion::FusionCommand),
}

#[derive(Subcommand)]
enum GenCommand {
    /// A synthetic city's departmental data with injected problems and the ground truth.
    City(yishu_gen::CityArgs),
    /// A day's changes to a city: 人社 rows whose payment status changed today, as a CSV to
    /// ingest into 社会保险参保信息 (what incremental fusion runs are measured with).
    Changes(yishu_gen::ChangesArgs),
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add a user. The password is prompted for, or read from the first line of stdin.
    Add(UserAdd),
}

#[derive(Args)]
struct UserAdd {
    /// Login name.
    #[arg(long)]
    name: String,
    /// Full name shown in pages.
    #[arg(long)]
    display_name: Option<String>,
    /// Code of the user's organisation.
    #[arg(long)]
    org: String,
    /// Roles (repeat or comma-separate): admin, data_manager, provider_officer, consumer, auditor.
    #[arg(long = "role", value_delimiter = ',', required = true)]
    roles: Vec<Role>,
}

#[derive(Subcommand)]
enum OrgCommand {
    /// Add an organisation.
    Add(OrgAdd),
    /// List organisations as a tree.
    List,
    /// Rename an organisation.
    Rename {
        /// Code of the organisation.
        code: String,
        /// New name.
        name: String,
    },
    /// Move an organisation under another (or to the top with --root).
    Move {
        /// Code of the organisation.
        code: String,
        /// Code of the new parent.
        #[arg(long, conflicts_with = "root", required_unless_present = "root")]
        parent: Option<String>,
        /// Make it a top-level organisation.
        #[arg(long)]
        root: bool,
    },
    /// Disable an organisation (its users can no longer be created there).
    Disable {
        /// Code of the organisation.
        code: String,
    },
    /// Enable a disabled organisation.
    Enable {
        /// Code of the organisation.
        code: String,
    },
}

#[derive(Args)]
struct OrgAdd {
    /// Unique code (ASCII letters, digits, - and _).
    #[arg(long)]
    code: String,
    /// Name, e.g. 成都市公安局.
    #[arg(long)]
    name: String,
    /// For a platform level: province, city or district. Omit for a department.
    #[arg(long)]
    level: Option<String>,
    /// Code of the parent organisation.
    #[arg(long)]
    parent: Option<String>,
    /// 统一社会信用代码 (checked).
    #[arg(long)]
    credit_code: Option<String>,
    /// GB/T 2260 division code.
    #[arg(long)]
    division: Option<String>,
}

#[derive(Args)]
struct IngestArgs {
    /// The file to ingest.
    file: PathBuf,
    /// Code of the catalog resource, e.g. 301001001/000001.
    #[arg(long)]
    resource: String,
    /// Text encoding (utf-8, gbk, gb18030); detected when omitted.
    #[arg(long)]
    encoding: Option<yishu_ingest::csv::TextEncoding>,
    /// Field delimiter (one ASCII character); detected when omitted.
    #[arg(long)]
    delimiter: Option<char>,
    /// Workbook sheet to read (the first when omitted).
    #[arg(long)]
    sheet: Option<String>,
    /// Row of a workbook sheet that holds the header (1-based).
    #[arg(long, default_value_t = 1)]
    header_row: usize,
    /// Confirm a column → item pair where the names differ, e.g. `--map 身份证号=公民身份号码`
    /// (repeatable). A file whose columns match no item is refused with proposed pairs.
    #[arg(long = "map")]
    map: Vec<String>,
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Walk the SM3 chain and name the first altered or missing record (exit 4 if broken).
    Verify,
}

/// Transparent huge pages off for this process. mimalloc asks the kernel for them, and the
/// first touch of each 2 MiB page zeroes all of it: in an incremental run the kernel spent half
/// the CPU clearing pages (1k batch on the 1M city 0.97–1.00 → 0.53–0.61 s; full fusion of the
/// 300k city 28.4–32.2 → 27.3–27.5 s; peak RSS of the 1k run 380–440 → 250–260 MB) — under
/// the kernel's `madvise` and `always` settings alike. The same as `MIMALLOC_ALLOW_THP=0`.
fn no_huge_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_THP_DISABLE takes integer arguments and touches no memory of ours; if the
    // kernel refuses it, the process runs as before.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

fn main() -> ExitCode {
    no_huge_pages();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            });
        }
    };
    // The Delta kernel logs expected conditions (a table that does not exist yet) as errors; our
    // own error path reports what matters, so its log stays off unless YISHU_LOG asks for it.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("YISHU_LOG")
                .unwrap_or_else(|_| "info,sqlx=warn,deltalake=warn,deltalake_core=warn,datafusion=warn,buoyant_kernel=off,delta_kernel=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let config = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("yishu: {e:#}");
            return ExitCode::from(exit::CONFIG);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("yishu: cannot start the runtime: {e}");
            return ExitCode::from(exit::FAILED);
        }
    };
    let result = rt.block_on(run(cli.command, config));
    if std::env::var_os("YISHU_PRINT_PEAK_RSS").is_some() {
        eprintln!(
            "peak RSS MiB: {:.0}",
            bench::peak_rss_mib().unwrap_or(f64::NAN)
        );
    }
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("yishu: {e:#}");
            ExitCode::from(exit::FAILED)
        }
    }
}

/// Opens the metadata store and lake of an installation, creating the data directory.
pub async fn open(config: &Config) -> Result<(Store, yishu_lake::Lake)> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create data directory {}", config.data_dir.display()))?;
    let store = Store::open(&config.database_url())
        .await
        .map_err(|e| anyhow!(e))?;
    let lake = yishu_lake::Lake::open(&config.lake_root()).map_err(|e| anyhow!(e))?;
    Ok((store, lake))
}

async fn run(command: Command, config: Config) -> Result<u8> {
    match command {
        Command::Serve { listen } => {
            let (store, lake) = open(&config).await?;
            if store.count_users().await.map_err(|e| anyhow!(e))? == 0 {
                eprintln!(
                    "yishu: no users yet. Create the first administrator with:\n  yishu org add --code ROOT --name 数据局 --level city\n  yishu user add --name admin --org ROOT --role admin"
                );
            }
            let addr = listen.unwrap_or(config.listen.clone());
            serve(store, lake, &config, &addr).await?;
            Ok(exit::OK)
        }
        Command::Demo(args) => demo::run(args, config).await,
        Command::Gen(GenCommand::City(args)) => {
            let summary = yishu_gen::generate_city(&args, &mut yishu_gen::TermProgress::new())
                .await
                .map_err(|e| anyhow!(e))?;
            println!("{summary}");
            Ok(exit::OK)
        }
        Command::Gen(GenCommand::Changes(args)) => {
            let n = yishu_gen::write_changes(&args).map_err(|e| anyhow!(e))?;
            println!("{n} changed rows written to {}", args.out.display());
            Ok(exit::OK)
        }
        Command::User(UserCommand::Add(a)) => {
            let (store, _) = open(&config).await?;
            let org = store
                .get_org_by_code(&a.org)
                .await
                .map_err(|e| anyhow!(e))?;
            let password = read_password()?;
            let u = store
                .create_user(&NewUser {
                    name: a.name,
                    display_name: a.display_name,
                    org_id: org.id,
                    password,
                    roles: a.roles,
                })
                .await
                .map_err(|e| anyhow!(e))?;
            store
                .audit(&cli_entry(
                    "user.create",
                    format!("user:{}", u.id),
                    serde_json::json!({"name": u.name, "roles": u.roles}),
                ))
                .await
                .map_err(|e| anyhow!(e))?;
            println!(
                "created user {} (id {}) in {} with roles {:?}",
                u.name, u.id, org.name, u.roles
            );
            Ok(exit::OK)
        }
        Command::Org(OrgCommand::Add(a)) => {
            let (store, _) = open(&config).await?;
            let parent_id: Option<OrgId> = match &a.parent {
                Some(code) => Some(
                    store
                        .get_org_by_code(code)
                        .await
                        .map_err(|e| anyhow!(e))?
                        .id,
                ),
                None => None,
            };
            let level = match a.level.as_deref() {
                None => None,
                Some("province") => Some(OrgLevel::Province),
                Some("city") => Some(OrgLevel::City),
                Some("district") => Some(OrgLevel::District),
                Some(other) => {
                    return Err(anyhow!(
                        "--level must be province, city or district, not '{other}'"
                    ));
                }
            };
            let o = store
                .create_org(&NewOrg {
                    code: a.code,
                    name: a.name,
                    kind: None,
                    level,
                    parent_id,
                    credit_code: a.credit_code,
                    division_code: a.division,
                })
                .await
                .map_err(|e| anyhow!(e))?;
            store
                .audit(&cli_entry(
                    "org.create",
                    format!("org:{}", o.id),
                    serde_json::json!({"code": o.code, "name": o.name}),
                ))
                .await
                .map_err(|e| anyhow!(e))?;
            println!("created organisation {} {} (id {})", o.code, o.name, o.id);
            Ok(exit::OK)
        }
        Command::Org(OrgCommand::Rename { code, name }) => {
            let (store, _) = open(&config).await?;
            let o = store.get_org_by_code(&code).await.map_err(|e| anyhow!(e))?;
            let o = store
                .rename_org(o.id, &name, o.version)
                .await
                .map_err(|e| anyhow!(e))?;
            org_changed(&store, "org.rename", &o).await
        }
        Command::Org(OrgCommand::Move {
            code,
            parent,
            root: _,
        }) => {
            let (store, _) = open(&config).await?;
            let o = store.get_org_by_code(&code).await.map_err(|e| anyhow!(e))?;
            let parent = match parent {
                Some(p) => Some(store.get_org_by_code(&p).await.map_err(|e| anyhow!(e))?.id),
                None => None,
            };
            let o = store
                .move_org(o.id, parent, o.version)
                .await
                .map_err(|e| anyhow!(e))?;
            org_changed(&store, "org.move", &o).await
        }
        Command::Org(OrgCommand::Disable { code }) => set_org_disabled(&config, &code, true).await,
        Command::Org(OrgCommand::Enable { code }) => set_org_disabled(&config, &code, false).await,
        Command::Org(OrgCommand::List) => {
            let (store, _) = open(&config).await?;
            let orgs = store.list_orgs().await.map_err(|e| anyhow!(e))?;
            for row in yishu_server::pages::org_tree(&orgs) {
                let o = &row.org;
                let state = if o.disabled { " [disabled]" } else { "" };
                println!("{}{} {}{state}", "  ".repeat(row.depth), o.code, o.name);
            }
            Ok(exit::OK)
        }
        Command::Ingest(a) => ingest(&config, a).await,
        Command::Catalog(c) => catalog::run(&config, c).await,
        Command::Quality(c) => quality::run(&config, c).await,
        Command::Fusion(c) => fusion::run(&config, c).await,
        Command::Migrate => {
            let (store, _) = open(&config).await?;
            store.migrate().await.map_err(|e| anyhow!(e))?;
            println!(
                "metadata store is up to date ({})",
                yishu_meta::store_redacted_url(&config.database_url())
            );
            Ok(exit::OK)
        }
        Command::Audit(AuditCommand::Verify) => {
            let (store, _) = open(&config).await?;
            let r = store.verify_audit().await.map_err(|e| anyhow!(e))?;
            match r.broken_at {
                None => {
                    println!("audit chain intact: {} records", r.records);
                    Ok(exit::OK)
                }
                Some(b) => {
                    println!(
                        "audit chain BROKEN at record {}: {} ({} records verified before it)",
                        b.seq, b.reason, r.records
                    );
                    Ok(exit::AUDIT_BROKEN)
                }
            }
        }
        Command::Bench(b) => bench::run(b, config).await,
    }
}

/// `yishu ingest`: one batch with a progress bar, its counts printed at the end.
async fn ingest(config: &Config, a: IngestArgs) -> Result<u8> {
    let (store, lake) = open(config).await?;
    let r = store
        .get_resource_by_code(&a.resource)
        .await
        .map_err(|e| anyhow!(e))?;
    let delimiter = match a.delimiter {
        None => None,
        Some(c) if c.is_ascii() => Some(c as u8),
        Some(c) => {
            return Err(anyhow!(
                "--delimiter must be one ASCII character, not '{c}'"
            ));
        }
    };
    let mapping = yishu_ingest::mapping::parse_pairs(&a.map).map_err(|e| anyhow!(e))?;
    let csv_opts = yishu_ingest::csv::CsvOptions {
        encoding: a.encoding,
        delimiter,
        mapping: mapping.clone(),
    };
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {msg} {pos} rows ({per_sec})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    bar.set_message(format!("ingesting {}", a.file.display()));
    let xlsx_opts = yishu_ingest::xlsx::XlsxOptions {
        sheet: a.sheet.clone(),
        header_row: a.header_row.max(1),
        mapping,
    };
    let opts = yishu_ingest::Source::for_path(&a.file, csv_opts, xlsx_opts);
    let out = yishu_ingest::ingest_file(&store, &lake, &r, &a.file, &opts, &mut |n| {
        bar.set_position(n)
    })
    .await;
    bar.finish_and_clear();
    match out.map_err(|e| anyhow!(e))? {
        yishu_ingest::Outcome::Ingested(b) => {
            let detail = serde_json::json!({"batch": b.id, "read": b.rows_read, "stored": b.rows_stored, "quarantined": b.rows_quarantined});
            store
                .audit(&cli_entry(
                    "ingest.batch",
                    format!("resource:{}", r.code),
                    detail,
                ))
                .await
                .map_err(|e| anyhow!(e))?;
            println!(
                "batch {}: {} rows read = {} stored + {} quarantined into ods.{} (lake version {})",
                b.id,
                b.rows_read,
                b.rows_stored,
                b.rows_quarantined,
                yishu_ingest::table_name(&r),
                b.lake_version
                    .map(|v| v.to_string())
                    .unwrap_or_else(|| "-".into())
            );
        }
        yishu_ingest::Outcome::AlreadyIngested(b) => {
            println!(
                "already ingested: this file's content was stored by batch {} ({} rows); nothing written",
                b.id, b.rows_stored
            );
        }
        yishu_ingest::Outcome::Unchanged(b) => println!("batch {}: {}", b.id, b.message),
    }
    Ok(exit::OK)
}

/// Audits a CLI change to an org and prints it.
async fn org_changed(store: &Store, action: &str, o: &yishu_meta::Org) -> Result<u8> {
    let detail = serde_json::json!({"code": o.code, "name": o.name, "parent_id": o.parent_id, "disabled": o.disabled});
    store
        .audit(&cli_entry(action, format!("org:{}", o.id), detail))
        .await
        .map_err(|e| anyhow!(e))?;
    println!("{action}: {} {} (version {})", o.code, o.name, o.version);
    Ok(exit::OK)
}

async fn set_org_disabled(config: &Config, code: &str, disabled: bool) -> Result<u8> {
    let (store, _) = open(config).await?;
    let o = store.get_org_by_code(code).await.map_err(|e| anyhow!(e))?;
    let o = store
        .set_org_disabled(o.id, disabled, o.version)
        .await
        .map_err(|e| anyhow!(e))?;
    org_changed(&store, "org.disable", &o).await
}

/// Serves until SIGTERM or Ctrl-C.
pub async fn serve(
    store: Store,
    lake: yishu_lake::Lake,
    config: &Config,
    addr: &str,
) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr()?;
    eprintln!(
        "yishu: serving on http://{local} (console http://{local}/console, API docs http://{local}/api/v1/docs/)"
    );
    // The national data elements are part of the product; registering them again is a no-op.
    yishu_quality::standard::seed(&store)
        .await
        .map_err(|e| anyhow!(e))?;
    let search = yishu_server::open_search(Some(&config.data_dir.join("search")), &store)
        .await
        .map_err(|e| anyhow!(e))?;
    let state = yishu_server::AppState::new(
        store.clone(),
        lake,
        search,
        yishu_server::ServerConfig {
            secure_cookies: config.secure_cookies,
            ..Default::default()
        },
    );
    yishu_server::serve(listener, state, yishu_server::shutdown_signal()).await?;
    store.close().await;
    Ok(())
}

/// An audit entry for an action taken on the command line.
pub(crate) fn cli_entry(action: &str, object: String, detail: serde_json::Value) -> AuditEntry {
    let who = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    AuditEntry {
        actor_name: format!("cli:{who}"),
        action: action.into(),
        object,
        source_ip: "local".into(),
        request_id: String::new(),
        outcome: "ok".into(),
        detail: detail.to_string(),
        ..Default::default()
    }
}

/// Prompts without echo on a terminal; otherwise reads the first line of stdin.
fn read_password() -> Result<String> {
    if std::io::stdin().is_terminal() {
        let p = rpassword::prompt_password("password: ")?;
        let again = rpassword::prompt_password("again: ")?;
        if p != again {
            return Err(anyhow!("the two passwords differ"));
        }
        Ok(p)
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        Ok(line.trim_end_matches(['\r', '\n']).to_string())
    }
}
