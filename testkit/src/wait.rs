use std::time::{Duration, Instant};

/// Retries `check` until it returns Ok or `timeout` passes; instead of sleeps in tests.
/// `Err(Some(reason))` gives up at once; `Err(None)` tries again.
pub fn eventually<T>(
    timeout: Duration,
    mut check: impl FnMut() -> Result<T, Option<String>>,
) -> Result<T, String> {
    let start = Instant::now();
    loop {
        match check() {
            Ok(v) => return Ok(v),
            Err(Some(fatal)) => return Err(fatal),
            Err(None) if start.elapsed() > timeout => {
                return Err(format!("not true within {timeout:?}"))
            }
            Err(None) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}
