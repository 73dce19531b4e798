//! The `dashboard` scenario: staff reading the whole admin dashboard over an order history.

use serde_json::json;

use crate::{ClientResult, Load, drive_clients};

/// Every figure of the dashboard, with the names the console shows beside the rankings.
pub const DASHBOARD: &str = "query Dashboard($p: PeriodPreset!) {
  adminDashboard(period: { preset: $p }, currencyCode: \"EUR\") {
    from to
    revenue { current { amount } previous { amount } change }
    orders { current previous change }
    averageOrderValue { current { amount } previous { amount } change }
    unitsSold { current previous change }
    refunds { current { amount } previous { amount } change }
    sellThrough { current previous }
    inventoryValue { units atCost { amount } atPrice { amount } }
    topCategories { category { name } revenue { amount } units }
    topVendors { vendor { name } revenue { amount } units }
    topProducts { product { title } revenue { amount } units }
    series(granularity: WEEK) { start revenue { amount } orders }
    lowStock { id title stock }
  }
}";

/// Days of history the scenario seeds: twice the dashboard's period, so its current and
/// previous periods together read every order.
pub const HISTORY_DAYS: u32 = 180;

/// Staff clients reading the dashboard as `token`, one request after another each.
pub async fn drive(
    client: &reqwest::Client,
    base: &str,
    load: Load,
    token: &str,
    period: &str,
) -> anyhow::Result<Vec<ClientResult>> {
    let variables = json!({ "p": period });
    drive_clients(
        client,
        base,
        load,
        DASHBOARD,
        Some(("authorization", format!("Bearer {token}"))),
        |_| variables.clone(),
        |variables| variables.clone(),
        |_, data, result| {
            if data["adminDashboard"]["orders"]["current"].as_i64().is_none_or(|n| n == 0) {
                result.errors += 1;
            }
        },
    )
    .await
}

/// The figures of one dashboard read alone, to print beside the load figures.
pub async fn describe(client: &reqwest::Client, base: &str, token: &str, period: &str) -> anyhow::Result<()> {
    let answer = crate::call(
        client,
        &format!("{base}/graphql"),
        DASHBOARD,
        json!({ "p": period }),
        Some(("authorization", &format!("Bearer {token}"))),
    )
    .await
    .ok_or_else(|| anyhow::anyhow!("the dashboard request failed"))?;
    if let Some(errors) = answer.get("errors") {
        anyhow::bail!("the dashboard answered errors: {errors}");
    }
    let figures = &answer["data"]["adminDashboard"];
    let count =
        |path: &str| figures[path]["current"].as_i64().unwrap_or(0) + figures[path]["previous"].as_i64().unwrap_or(0);
    println!(
        "dashboard   {period} and the period before: {} orders paid, {} units, revenue {} / {} EUR",
        count("orders"),
        count("unitsSold"),
        figures["revenue"]["current"]["amount"].as_str().unwrap_or("?"),
        figures["revenue"]["previous"]["amount"].as_str().unwrap_or("?"),
    );
    Ok(())
}
