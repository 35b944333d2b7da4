// Starts GraphiQL on the page's #graphiql element, against the endpoints it names. Relative
// URLs, so the playground works behind any proxy or public URL.
(function () {
  var root = document.getElementById("graphiql");
  var endpoint = new URL(root.dataset.endpoint, window.location.href);
  var subscriptions = new URL(root.dataset.subscriptionEndpoint, window.location.href);
  subscriptions.protocol = endpoint.protocol === "https:" ? "wss:" : "ws:";
  var fetcher = GraphiQL.createFetcher({
    url: endpoint.toString(),
    subscriptionUrl: subscriptions.toString(),
  });
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
