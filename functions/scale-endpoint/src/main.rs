//! Wiring only: configuration, clients and JSON logs once per process; each event to [`App::handle`], its error
//! classified for Lambda ([`lambda::respond`]).

use lambda_runtime::{Error, LambdaEvent, service_fn};
use modelwatch_aws::lambda;
use scale_endpoint::config::Config;
use scale_endpoint::handler::{App, Clients};

#[tokio::main]
async fn main() -> Result<(), Error> {
    modelwatch_aws::logs::init_json_logs();
    let config = Config::from_env()?;
    let app = App {
        config,
        clients: Clients::from_env().await,
    };
    let app = &app;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| async move {
        lambda::respond(app.handle(event.payload, chrono::Utc::now()).await)
    }))
    .await
}
