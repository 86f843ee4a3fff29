// An Express app for paas: `git push` it, and the Node.js buildpack installs
// its dependencies, runs `npm run build` and starts its `start` script.
const express = require("express");

const app = express();
const port = process.env.PORT || 5000;

app.use(express.static("dist"));

app.get("/", (req, res) => {
  res.type("text").send(
    `Hello from Express on paas! dyno=${process.env.DYNO} release=${process.env.PAAS_RELEASE} ` +
      `node=${process.version} env=${process.env.NODE_ENV}\n`
  );
});

const server = app.listen(port, () => console.log(`listening on ${port}`));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
