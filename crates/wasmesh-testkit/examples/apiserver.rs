//! Runs the API server double by hand, to try a client against it:
//! `cargo run -p wasmesh-testkit --example apiserver`, then
//! `KUBECONFIG=<the printed path> kubectl -v=8 get secrets`. Serves until killed.

fn main() -> std::io::Result<()> {
    let server = wasmesh_testkit::apiserver::ApiServer::start()?;
    let kubeconfig = server.kubeconfig()?;
    println!("{}", kubeconfig.path().display());
    loop {
        std::thread::park();
    }
}
