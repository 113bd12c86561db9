// Sample Node.js HTTP service for kubectl-fastdev: GET / answers the message, GET /healthz "ok".
// It uses one npm dependency (ms) to show that in-pod installs work.
const http = require("http");
const ms = require("ms");
const escapeHtml = require("escape-html");

const message = escapeHtml("hello from web-node <v3>");
const started = Date.now();

const server = http.createServer((req, res) => {
  console.log(`${req.method} ${req.url}`);
  if (req.url === "/throw") {
    setTimeout(() => { throw new Error("fastdev e2e: thrown"); });
  }
  if (req.url === "/reject") {
    setTimeout(() => { Promise.reject(new Error("fastdev e2e: rejected")); });
  }
  if (req.url === "/reject-string") {
    setTimeout(() => { Promise.reject("fastdev e2e: a string"); });
  }
  if (req.url === "/healthz") {
    res.end("ok\n");
    return;
  }
  if (req.url === "/uptime") {
    res.end(`up ${ms(Date.now() - started, { long: true })}\n`);
    return;
  }
  res.end(message + "\n");
});

server.listen(8080, () => console.log("web-node listening on :8080"));

// A clean, quick exit on SIGTERM: a restart waits for the old process to end.
process.on("SIGTERM", () => server.close(() => process.exit(0)));
