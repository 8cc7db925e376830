//! `authlab list`: the experiments, then the claims and which experiment
//! answers each.

pub async fn run() -> anyhow::Result<()> {
    println!("{:<6} {:<10} TITLE", "ID", "CLAIMS");
    for experiment in lab::experiments::all() {
        println!(
            "{:<6} {:<10} {}",
            experiment.id(),
            experiment.claims().join(","),
            experiment.title()
        );
    }
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
