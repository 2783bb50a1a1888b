// The chat page: the typed Shoal client (served from src/client with its
// types stripped), msgpack by default, ?protocol=json for the JSON twin.
import { ShoalClient, JSON_PROTOCOL } from '/src/client/index.ts';

// The page and the WebSocket share one port: ws:// for http://, wss:// for https://.
const wsUrl = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/`;
const params = new URLSearchParams(location.search);
const client = new ShoalClient(wsUrl, { protocols: params.get('protocol') === 'json' ? [JSON_PROTOCOL] : undefined });

const status = document.querySelector('#status');
const me = document.querySelector('#me');
const list = document.querySelector('#messages');
const joinForm = document.querySelector('#join');
const sayForm = document.querySelector('#say');
const seen = new Set();
let joined = null; // { room, nick }

function setStatus(state, text) {
  status.dataset.state = state;
  status.textContent = text;
}

function append(className, parts) {
  const item = document.createElement('li');
  item.className = className;
  for (const [cls, text] of parts) {
    const span = document.createElement('span');
    span.className = cls;
    span.textContent = text;
    item.append(span);
  }
  list.append(item);
  list.scrollTop = list.scrollHeight;
}

function showMessage(message) {
  if (seen.has(message.id)) return;
  seen.add(message.id);
  append('message', [['nick', message.nick], ['text', message.text]]);
}

function onRoomEvent(event) {
  if (event.type === 'message') showMessage(event.message);
  else append('notice', [['text', `${event.nick} ${event.type === 'join' ? 'joined' : 'left'}`]]);
}

async function join(room, nick) {
  // Subscribe first (renewed by the client after a reconnect), then fetch the
  // history; a message in both is shown once (by id).
  await client.subscribe(`room:${room}`, onRoomEvent);
  const { history, address } = await client.request('join', { room, nick });
  for (const message of history) showMessage(message);
  joined = { room, nick };
  me.textContent = `${nick} in #${room} (connection ${address})`;
  me.dataset.address = address;
  for (const input of sayForm.elements) input.disabled = false;
  sayForm.elements.text.focus();
}

client.onStatus((change) => {
  if (change.type === 'open') {
    setStatus('open', `connected (${change.protocol})`);
    // The server forgot our nickname with the old connection: join again.
    if (change.reconnected && joined !== null) join(joined.room, joined.nick).catch((error) => setStatus('error', error.message));
  } else if (change.type === 'reconnecting') setStatus('reconnecting', `reconnecting in ${change.delayMs} ms…`);
  else if (change.type === 'closed') setStatus('closed', change.error ? change.error.message : 'closed');
});

joinForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const nick = joinForm.elements.nick.value.trim();
  const room = joinForm.elements.room.value.trim();
  join(room, nick).catch((error) => setStatus('error', `${error.code ?? 'ERROR'}: ${error.message}`));
});

sayForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const text = sayForm.elements.text.value.trim();
  if (text === '' || joined === null) return;
  sayForm.elements.text.value = '';
  client.request('say', { room: joined.room, text }).then(showMessage, (error) => setStatus('error', `${error.code ?? 'ERROR'}: ${error.message}`));
});

client.connect().catch((error) => setStatus('closed', `${error.code}: ${error.message}`));
