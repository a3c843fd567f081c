//! Times as people in China read them (UTC+8), for pages, reports and workbooks.

/// Formats epoch milliseconds as Beijing wall time for tables.
pub fn fmt_time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|d| {
            d.with_timezone(
                &chrono::FixedOffset::east_opt(8 * 3600)
                    .unwrap_or_else(|| unreachable!("+8h is valid")),
            )
            .format("%Y-%m-%d %H:%M:%S")
            .to_string()
        })
        .unwrap_or_default()
}
