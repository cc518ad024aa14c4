// openid-client as a server-side web app uses it: discovery, the code flow with PKCE, state and
// nonce, the callback (query or form_post), UserInfo, refresh, then RP-initiated logout and a
// refresh attempt after it.
import * as client from 'openid-client'
import { configure, describeError, emit, listen, receive, run, tokenFields } from './rp.mjs'

run(async () => {
  const rp = await listen()
  const redirect_uri = `${rp.origin}/callback`
  const post_logout_redirect_uri = `${rp.origin}/logged-out`
  emit('listening', { redirect_uri, post_logout_redirect_uri })

  const settings = await receive()
  const config = await configure(settings)
  emit('discovered', { metadata: config.serverMetadata() })

  const code_verifier = client.randomPKCECodeVerifier()
  const state = client.randomState()
  const nonce = client.randomNonce()
  const parameters = {
    redirect_uri,
    scope: settings.scope,
    code_challenge: await client.calculatePKCECodeChallenge(code_verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  }
  if (settings.response_mode) parameters.response_mode = settings.response_mode
  const callback = rp.next('/callback')
  emit('authorize', { url: client.buildAuthorizationUrl(config, parameters).href })

  const { request, reply } = await callback
  let tokens
  try {
    tokens = await client.authorizationCodeGrant(config, request, {
      pkceCodeVerifier: code_verifier,
      expectedState: state,
      expectedNonce: nonce,
    })
  } catch (error) {
    reply(400, 'Sign-in failed')
    emit('callback_error', { method: request.method, ...describeError(error) })
    return
  }
  const claims = tokens.claims()
  reply(200, `Signed in as ${claims.sub}`)
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub)
  emit('signed_in', { method: request.method, tokens: tokenFields(tokens), claims, userinfo })

  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token)
  emit('refreshed', { tokens: tokenFields(refreshed), claims: refreshed.claims() })

  const logout_state = client.randomState()
  const loggedOut = rp.next('/logged-out')
  const end_session = client.buildEndSessionUrl(config, {
    id_token_hint: refreshed.id_token,
    post_logout_redirect_uri,
    state: logout_state,
  })
  emit('logout', { url: end_session.href })
  const back = await loggedOut
  back.reply(200, 'Signed out')
  let after
  try {
    after = { tokens: tokenFields(await client.refreshTokenGrant(config, refreshed.refresh_token)) }
  } catch (error) {
    after = describeError(error)
  }
  emit('logged_out', {
    state: new URL(back.request.url).searchParams.get('state'),
    expected_state: logout_state,
    refresh_after_logout: after,
  })
})
