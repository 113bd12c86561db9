'use strict';
const fs = require('fs');

function readConfig(path) {
  try {
    return JSON.parse(fs.readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read config ${path}`, { cause: err });
  }
}

console.log('server starting');
try {
  readConfig('/app/src/node/config.json');
} catch (err) {
  console.error(err);
}
console.log('listening on 3000');
const user = undefined;
setTimeout(() => {
  console.log('handling GET /profile');
  console.log(user.name);
}, 10);
