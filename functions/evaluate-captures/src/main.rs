//! Wiring only: configuration, clients and JSON logs once per process; each event to [`App::handle`], its error
//! classified for Lambda ([`lambda::respond`]).

use evaluate_captures::config::Config;
use evaluate_captures::handler::{App, Clients};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use modelwatch_aws::lambda;

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
        lambda::respond(
            app.handle(event.payload, chrono::Utc::now(), &event.context.request_id)
                .await,
        )
    }))
    .await
}
