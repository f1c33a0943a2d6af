mod shout;

use std::io::BufRead;

fn main() {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).unwrap();
    println!("stdin: {}", line.trim());
    let args: Vec<String> = std::env::args().skip(1).collect();
    println!("shout: {}", shout::shout(&args.join(" ")));
    match std::fs::read_to_string("/etc/passwd") {
        Ok(_) => println!("read: allowed"),
        Err(_) => println!("read: denied"),
    }
    if args.len() > 1 {
        std::process::exit(7);
    }
}
