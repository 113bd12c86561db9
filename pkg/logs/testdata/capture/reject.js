console.log('worker up');
async function fetchUser(id) {
  throw new TypeError(`user id must be a number, got ${typeof id}`);
}
fetchUser('42');
