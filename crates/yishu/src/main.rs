//! `yishu`: the one binary of the platform. Every command and flag is defined here once; clap
//! derives `--help` from these definitions.

mod cmd;
mod config;

use anyhow::Result;
use clap::{Parser, Subcommand};
use config::Config;
use std::path::PathBuf;
use std::process::ExitCode;

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
    Demo(cmd::demo::DemoArgs),
    /// Synthetic data generators.
    #[command(subcommand)]
    Gen(cmd::generate::GenCommand),
    /// Manage users.
    #[command(subcommand)]
    User(cmd::user::UserCommand),
    /// Manage organisations.
    #[command(subcommand)]
    Org(cmd::org::OrgCommand),
    /// Sharing: apply, decide, list and revoke grants.
    #[command(subcommand)]
    Share(cmd::share::ShareCommand),
    /// Data services: define in SQL, test, review, publish, list.
    #[command(subcommand)]
    Service(cmd::service::ServiceCommand),
    /// Watermarks of granted downloads: name the download a leaked file came from.
    #[command(subcommand)]
    Watermark(cmd::watermark::WatermarkCommand),
    /// Ingest a CSV file (UTF-8, GBK or GB18030) or a workbook sheet (XLSX, XLS, ODS) into a
    /// resource's ods table as one batch.
    Ingest(cmd::ingest::IngestArgs),
    /// The cataloguing workbook: template, export (XLSX or JSON), import.
    #[command(subcommand)]
    Catalog(cmd::catalog::CatalogCommand),
    /// Apply metadata-store migrations and exit.
    Migrate,
    /// Audit-log tools.
    #[command(subcommand)]
    Audit(cmd::audit::AuditCommand),
    /// Back up the installation while it runs (`--to DIR`), or check a backup (`verify DIR`).
    Backup(cmd::backup::BackupArgs),
    /// Restore a backup into a new, empty data directory, or one lake table to an earlier version.
    Restore(cmd::backup::RestoreArgs),
    /// Benchmarks that print a comparison table.
    #[command(subcommand)]
    Bench(cmd::bench::BenchCommand),
    /// Data quality: check batches, try rules, seed the national data elements.
    #[command(subcommand)]
    Quality(cmd::quality::QualityCommand),
    /// Fusion: the plan (sources, authorities, survivorship), runs, accuracy against a city's truth
    #[command(subcommand)]
    Fusion(cmd::fusion::FusionCommand),
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
            cmd::bench::peak_rss_mib().unwrap_or(f64::NAN)
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

async fn run(command: Command, config: Config) -> Result<u8> {
    match command {
        Command::Serve { listen } => cmd::serve::run(&config, listen).await,
        Command::Demo(args) => cmd::demo::run(args, config).await,
        Command::Gen(c) => cmd::generate::run(c).await,
        Command::User(c) => cmd::user::run(&config, c).await,
        Command::Org(c) => cmd::org::run(&config, c).await,
        Command::Share(c) => cmd::share::run(&config, c).await,
        Command::Service(c) => cmd::service::run(&config, c).await,
        Command::Watermark(c) => cmd::watermark::run(&config, c).await,
        Command::Ingest(a) => cmd::ingest::run(&config, a).await,
        Command::Catalog(c) => cmd::catalog::run(&config, c).await,
        Command::Quality(c) => cmd::quality::run(&config, c).await,
        Command::Fusion(c) => cmd::fusion::run(&config, c).await,
        Command::Migrate => cmd::audit::migrate(&config).await,
        Command::Audit(c) => cmd::audit::run(&config, c).await,
        Command::Backup(a) => cmd::backup::backup(&config, a).await,
        Command::Restore(a) => cmd::backup::restore(&config, a).await,
        Command::Bench(b) => cmd::bench::run(b, config).await,
    }
}
