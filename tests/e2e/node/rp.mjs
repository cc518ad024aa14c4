// What the Node relying parties share: how they report to the test, how they learn their
// client, and a tiny HTTP receiver for the provider's redirects (query or form_post).
import http from 'node:http'
import { createInterface } from 'node:readline'
import * as client from 'openid-client'

/** Report one step to the test as a JSON line on stdout. */
export function emit(event, data = {}) {
  process.stdout.write(JSON.stringify({ event, ...data }) + '\n')
}

const stdin = createInterface({ input: process.stdin })[Symbol.asyncIterator]()

/** Wait for the test's next message (a JSON line on stdin). */
export async function receive() {
  const { value, done } = await stdin.next()
  if (done) throw new Error('stdin closed before the test answered')
  return JSON.parse(value)
}

/** The fields an RP acts on from openid-client's errors (OAuth error code, HTTP status). */
export function describeError(error) {
  return {
    name: error.name,
    message: error.message,
    code: error.code,
    error: error.error,
    error_description: error.error_description,
    status: error.status,
  }
}

/** Run ``main``; on failure report it as an ``error`` event and exit non-zero. */
export function run(main) {
  main().then(
    () => process.exit(0),
    (error) => {
      emit('error', { ...describeError(error), stack: error.stack })
      process.exit(1)
    },
  )
}

/** Configure the client from the issuer's discovery document alone. */
export function configure({ issuer, client_id, client_secret }) {
  // The suite's issuer is plain HTTP on loopback; openid-client refuses that unless told.
  const options = { execute: [client.allowInsecureRequests] }
  return client_secret
    ? client.discovery(new URL(issuer), client_id, client_secret, undefined, options)
    : client.discovery(new URL(issuer), client_id, undefined, client.None(), options)
}

/** The token response without the helper methods openid-client adds. */
export function tokenFields(tokens) {
  return JSON.parse(JSON.stringify(tokens))
}

/**
 * Listen on a free loopback port. ``next(path)`` resolves with the next request to ``path``
 * as a fetch ``Request`` (what openid-client's callback handling takes) and a ``reply``.
 */
export async function listen() {
  const waiting = new Map()
  const server = http.createServer(async (incoming, response) => {
    const url = new URL(incoming.url, origin)
    const chunks = []
    for await (const chunk of incoming) chunks.push(chunk)
    const handler = waiting.get(url.pathname)
    if (!handler) {
      response.writeHead(404).end()
      return
    }
    waiting.delete(url.pathname)
    const headers = {}
    if (incoming.headers['content-type']) headers['content-type'] = incoming.headers['content-type']
    const request = new Request(url, {
      method: incoming.method,
      headers,
      body: incoming.method === 'POST' ? Buffer.concat(chunks) : undefined,
    })
    handler({
      request,
      reply(status, text) {
        response.writeHead(status, { 'content-type': 'text/html; charset=utf-8' })
        response.end(`<!doctype html><title>Node RP</title><p>${text}`)
      },
    })
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const origin = `http://127.0.0.1:${server.address().port}`
  return {
    origin,
    next: (path) => new Promise((resolve) => waiting.set(path, resolve)),
  }
}
