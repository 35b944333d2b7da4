// Starts GraphiQL on the page's #graphiql element, against the endpoints it names. Relative
// URLs, so the playground works behind any proxy or public URL.
(function () {
  var root = document.getElementById("graphiql");
  var endpoint = new URL(root.dataset.endpoint, window.location.href);
  var subscriptions = new URL(root.dataset.subscriptionEndpoint, window.location.href);
  subscriptions.protocol = endpoint.protocol === "https:" ? "wss:" : "ws:";
  var transport = GraphiQL.createFetcher({
    url: endpoint.toString(),
    subscriptionUrl: subscriptions.toString(),
  });

  // GraphiQL's fetcher picks the WebSocket when the editor's parsed document says
  // "subscription", but the editor parses 100 ms after each edit: ▶ pressed right after a
  // paste sent the subscription over HTTP. The operation's own text decides here.
  function fetcher(params, options) {
    var operation = selectedOperation(params.query || "", params.operationName);
    if (operation === null) {
      return transport(params, options);
    }
    var name = operation.name || undefined;
    var request = Object.assign({}, params, { operationName: name || null });
    var definition = {
      kind: "OperationDefinition",
      operation: operation.type,
      name: name ? { kind: "Name", value: name } : undefined,
      variableDefinitions: [],
      directives: [],
      selectionSet: { kind: "SelectionSet", selections: [] },
    };
    return transport(
      request,
      Object.assign({}, options, {
        documentAST: { kind: "Document", definitions: [definition] },
      })
    );
  }

  // The operations of a GraphQL document (type and name), read from its tokens: comments
  // and strings skipped, braces and parentheses counted, so only top-level keywords count.
  function operationsOf(source) {
    var tokens = /#[^\n\r]*|"""(?:\\"""|[\s\S])*?"""|"(?:\\.|[^"\\\n\r])*"|[_A-Za-z][_0-9A-Za-z]*|[\s,\ufeff]+|[\s\S]/g;
    var operations = [];
    var braces = 0;
    var parens = 0;
    var header = null;
    var previous = null;
    var match;
    while ((match = tokens.exec(source)) !== null) {
      var token = match[0];
      if (/^[\s,\ufeff#"]/.test(token)) {
        continue;
      }
      if (token === "(") {
        parens += 1;
      } else if (token === ")") {
        parens -= 1;
      } else if (token === "{") {
        if (braces === 0 && parens === 0 && header === null) {
          operations.push({ type: "query", name: null });
          header = operations[operations.length - 1];
        }
        braces += 1;
      } else if (token === "}") {
        braces -= 1;
        if (braces === 0) {
          header = null;
        }
      } else if (braces === 0 && parens === 0 && /^[_A-Za-z]/.test(token)) {
        if (header === null && /^(query|mutation|subscription)$/.test(token)) {
          header = { type: token, name: null };
          operations.push(header);
        } else if (header === null && token === "fragment") {
          header = { type: "fragment", name: null };
        } else if (header !== null && header.type !== "fragment" && header.name === null && previous === header.type) {
          header.name = token;
        }
      }
      previous = token;
    }
    return operations;
  }

  // The operation a request runs: the one named, or the only one. A name left over from
  // the previous document (GraphiQL's state lags behind the editor too) yields to a
  // document's only operation.
  function selectedOperation(source, operationName) {
    var operations = operationsOf(source);
    if (operationName) {
      for (var i = 0; i < operations.length; i += 1) {
        if (operations[i].name === operationName) {
          return operations[i];
        }
      }
    }
    return operations.length === 1 ? operations[0] : null;
  }

  ReactDOM.createRoot(root).render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: root.dataset.defaultQuery,
      defaultEditorToolsVisibility: true,
      // A token typed into the Headers tab must not outlive the page in the browser's storage.
      shouldPersistHeaders: false,
    })
  );
})();
