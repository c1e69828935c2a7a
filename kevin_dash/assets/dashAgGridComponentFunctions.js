// AG Grid cell renderers for kevin's dashboard (loaded from assets/, no CDN).
var dagcomponentfuncs = (window.dashAgGridComponentFunctions = window.dashAgGridComponentFunctions || {});

// A coloured status pill: OPEN, TRADED, WOULD-TRADE, SKIPPED, dry_run, skipped_filter, ...
// The row's `<field>_reason` (or live_reason / reason) becomes the hover title.
dagcomponentfuncs.KevinBadge = function (props) {
  var value = props.value == null ? "" : String(props.value);
  if (!value) {
    return null;
  }
  var slug = value.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "");
  var data = props.data || {};
  var title = data.live_reason || data.reason || "";
  return React.createElement("span", { className: "kd-badge kd-badge-" + slug, title: title }, value);
};
