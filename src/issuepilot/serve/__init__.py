"""`issuepilot serve` and `issuepilot worker`: one GitHub App for many repositories.

By concern:
- `settings`: what the service and its workers are told (flags and environment);
- `queue`: the Redis streams of deliveries and of steps, and their scripts;
- `webhooks`, `tasks`, `app`: the web service (FastAPI): the webhook route, the task
  API, health and metrics; nothing happens in a request but checking and queuing;
- `repos`: the App's clients per repository, and each one's settings (its
  organisation's defaults under its own);
- `dispatch`: each delivery to where its step runs: a workflow run (`actions`) or the
  workers' queue (`workers`);
- `worker`, `checkout`: a worker: a step in a fresh checkout, acknowledged after it;
- `redeliver`: failed deliveries asked for again; `manifest`: the App to create.
See docs/serve.md.
"""
