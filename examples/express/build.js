// The `build` script: paas's Node.js buildpack runs it after installing the
// dependencies. Here it renders a page the server then serves.
const fs = require("fs");

fs.mkdirSync("dist", { recursive: true });
const built = new Date().toISOString();
fs.writeFileSync(
  "dist/about.html",
  `<!doctype html><title>about</title><p>Built by npm run build at ${built}</p>\n`
);
console.log(`wrote dist/about.html (built ${built})`);
