pub fn shout(text: &str) -> String {
    format!("{}!", text.to_uppercase())
}
