//! Prints the built-in checkpoints as CSV (kkmc,kkbh,lon,lat).
fn main() {
    print!("{}", gantry_sim::network().checkpoints().to_csv());
}
