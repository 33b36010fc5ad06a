# The chatbot of Gramex's WebSocketHandler documentation, exactly as written there.
# pingbot.yaml calls open(handler), on_message(handler, message) and on_close(handler).
# fmt: off

def open(handler):
    print('Chatbot opened for', handler.session['id'])

def on_message(handler, message):
    print('Got message', message, 'for', handler.session['id'])
    handler.write_message('Got message: ' + message)

def on_close(handler):
    print('Chatbot closed for', handler.session['id'])
