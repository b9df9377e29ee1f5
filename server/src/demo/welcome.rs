//! What `doorstep demo` prints: where the relay listens, and the logins.

use super::{DEMO_PASSWORD, WORKERS};
use crate::config::Settings;

/// Prints where the relay listens and how to log in.
pub fn print_welcome(settings: &Settings, seeded: bool) {
    let url = format!("http://{}", settings.listen);
    let what = if seeded { "seeded" } else { "reusing" };
    println!("Doorstep demo relay ({what} {})", settings.db.display());
    println!("  URL:       {url}");
    println!("  health:    {url}/healthz");
    println!("  field app: {url}/field/ (workers, on a phone: offline, installable)");
    if settings.public_page {
        println!("  public:    {url}/public/ (the published counts, no login)");
    }
    println!("  password:  {DEMO_PASSWORD} (every demo user)");
    println!("  admin:     admin (district longgang)");
    println!(
        "  supervisors: chen (longgang), liu (longgang/yuanshan), zhou (longgang/buji), wu (longgang/bantian)"
    );
    println!(
        "  workers:   {} (one per community); {} (xikeng, whose phone was lost)",
        WORKERS.join(", "),
        super::devices::LOST_PHONE_USER
    );
    println!("  volunteers: {}", super::wall::welcome());
    println!(
        "  try:       TOKEN=$(curl -s {url}/v1/auth/login -H 'content-type: application/json' \\"
    );
    println!(
        "               -d '{{\"username\":\"chen\",\"password\":\"{DEMO_PASSWORD}\",\"device_id\":\"00000000-0000-4000-8000-000000000001\",\"device_name\":\"curl\"}}' | jq -r .access_token)"
    );
    println!("             curl -s {url}/v1/stats -H \"authorization: Bearer $TOKEN\"");
}
