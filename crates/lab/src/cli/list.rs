//! `authlab list`: the experiments and the engines they run on, then the
//! claims and which experiment answers each.

pub async fn run() -> anyhow::Result<()> {
    print!("{}", lab::experiments::listing(&lab::experiments::all()));
    println!(
        "\n{:<6} {:<10} CLAIM ({} explains each)",
        "CLAIM",
        "ANSWERED BY",
        lab::claims::DOC
    );
    for claim in lab::claims::CLAIMS {
        println!(
            "{:<6} {:<10} {}",
            claim.id,
            claim.experiment.unwrap_or("(none yet)"),
            claim.statement
        );
    }
    Ok(())
}
