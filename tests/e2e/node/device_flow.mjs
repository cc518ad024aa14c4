// openid-client as a device (a CLI, a TV) uses it: discovery, initiateDeviceAuthorization, and
// pollDeviceAuthorizationGrant while the user approves elsewhere; then UserInfo and a refresh.
import * as client from 'openid-client'
import { configure, emit, receive, run, tokenFields } from './rp.mjs'

run(async () => {
  const settings = await receive()
  const config = await configure(settings)
  emit('discovered', { metadata: config.serverMetadata() })

  const device = await client.initiateDeviceAuthorization(config, { scope: settings.scope })
  emit('device_authorization', {
    user_code: device.user_code,
    verification_uri: device.verification_uri,
    verification_uri_complete: device.verification_uri_complete,
    expires_in: device.expires_in,
    interval: device.interval,
  })

  const tokens = await client.pollDeviceAuthorizationGrant(config, device)
  const claims = tokens.claims()
  // Without an ID token there is no subject to hold UserInfo to; the test then fails on claims.
  const userinfo = await client.fetchUserInfo(
    config,
    tokens.access_token,
    claims?.sub ?? client.skipSubjectCheck,
  )
  emit('authorized', { tokens: tokenFields(tokens), claims, userinfo })

  if (tokens.refresh_token) {
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token)
    emit('refreshed', { tokens: tokenFields(refreshed), claims: refreshed.claims() })
  }
})
