use super::*;

fn opts() -> ExtractOptions {
    ExtractOptions::default()
}

fn t(html: &str) -> String {
    extract_text(html, &opts()).unwrap().text
}

fn ex(html: &str) -> Extracted {
    extract_text(html, &opts()).unwrap()
}

// ------------------------------------------------------------------ structure

#[test]
fn paragraphs_are_separated_by_blank_lines() {
    assert_eq!(t("<p>One</p><p>Two</p>"), "One\n\nTwo");
    assert_eq!(t("<div>One</div>\n\n\n<div>Two</div>"), "One\n\nTwo");
    assert_eq!(t("plain text only"), "plain text only");
    assert_eq!(t(""), "");
}

#[test]
fn whitespace_is_normalised() {
    assert_eq!(t("<p>  a \n\t b   c  </p>"), "a b c");
    assert_eq!(t("<p>a<b>b</b>c <i> d </i> e</p>"), "abc d e");
    assert_eq!(t("<p>no&nbsp;break\u{a0}space</p>"), "no break space");
    assert_eq!(t("<p>soft&shy;hyphen\u{ad}s</p>"), "softhyphens");
}

#[test]
fn headings_are_own_blocks() {
    assert_eq!(
        t("<h1>Title</h1>text<h2>Sub</h2><p>more</p>"),
        "Title\n\ntext\n\nSub\n\nmore"
    );
    let b = blocks("<h3>H</h3><p>x</p>", &opts());
    assert_eq!(b[0].kind, BlockKind::Heading);
    assert_eq!(b[0].heading_level, 3);
    assert_eq!(b[1].heading_level, 0);
}

#[test]
fn br_is_a_newline() {
    assert_eq!(t("<p>a<br>b<br/>c</p>"), "a\nb\nc");
    assert_eq!(t("<p>a <br> b</p>"), "a\nb");
    assert_eq!(t("<p>a<br><br><br><br>b</p>"), "a\n\nb");
    assert_eq!(t("<p>a</br>b</p>"), "a\nb");
}

#[test]
fn lists_get_bullets() {
    assert_eq!(t("<ul><li>a</li><li>b</li></ul>"), "- a\n- b");
    assert_eq!(
        t("<p>x</p><ol><li>a<li>b</ol><p>y</p>"),
        "x\n\n- a\n- b\n\ny"
    );
    assert_eq!(
        t("<ul><li>a<ul><li>a1</li><li>a2</li></ul></li><li>b</li></ul>"),
        "- a\n  - a1\n  - a2\n- b"
    );
    assert_eq!(
        t("<ul><li><p>para</p><p>cont</p></li></ul>"),
        "- para\n  cont"
    );
    let no = ExtractOptions {
        list_bullets: false,
        ..opts()
    };
    assert_eq!(
        extract_text("<ul><li>a<li>b</ul>", &no).unwrap().text,
        "a\nb"
    );
}

#[test]
fn tables_become_rows() {
    let html = "<table><tr><th>Name</th><th>Age</th></tr><tr><td>Ann</td><td>31</td></tr></table>";
    assert_eq!(t(html), "Name | Age\nAnn | 31");
    // implied end tags for td/tr, no tbody
    assert_eq!(
        t("<table><tr><td>a<td>b<tr><td>c<td>d</table>"),
        "a | b\nc | d"
    );
    assert_eq!(
        t("<p>x</p><table><tr><td>1</td></tr></table><p>y</p>"),
        "x\n\n1\n\ny"
    );
    let b = blocks(html, &opts());
    assert!(b
        .iter()
        .all(|b| b.kind == BlockKind::TableRow && b.in_table));
}

#[test]
fn layout_table_with_blocks_inside_cells() {
    let s = t("<table><tr><td><p>First para</p><p>Second</p></td><td>side</td></tr></table>");
    assert_eq!(s, "First para\n\nSecond\n\nside");
}

#[test]
fn pre_keeps_whitespace() {
    assert_eq!(
        t("<p>x</p><pre>\n  fn main() {\n      go();\n  }\n</pre>"),
        "x\n\n  fn main() {\n      go();\n  }"
    );
    assert_eq!(t("<pre>a  &lt;b&gt;\r\n c</pre>"), "a  <b>\n c");
    assert_eq!(t("<pre><b>bold</b>   x</pre>"), "bold   x");
    assert_eq!(blocks("<pre> x</pre>", &opts())[0].kind, BlockKind::Pre);
}

// ------------------------------------------------------------------ dropped content

#[test]
fn scripts_styles_and_friends_are_dropped() {
    let html = "<head><style>p { color: red }</style><script>var x = 1 < 2;</script>\
                <meta name=x content=y><link rel=stylesheet href=a.css></head>\
                <body><noscript>enable js</noscript><template><p>tpl</p></template>\
                <svg><text>vector</text><title>svg title</title></svg>\
                <iframe src=x>frame text</iframe><p>kept</p>\
                <select><option>opt1<option>opt2</select><textarea>typed</textarea>\
                <button>Click</button></body>";
    assert_eq!(t(html), "kept");
    assert_eq!(ex(html).title, None);
}

#[test]
fn script_containing_markup_does_not_leak() {
    let html =
        "<p>a</p><script>document.write('</div><p>no</p>'); var s = '<!--';</script><p>b</p>";
    assert_eq!(t(html), "a\n\nb");
    // HTML5 script escaping: an inner </script> inside <!-- <script> ... --> does not close
    let html = "<script><!-- document.write('<script>x()</script>'); --></script><p>c</p>";
    assert_eq!(t(html), "c");
    assert_eq!(
        t("<SCRIPT type=text/javascript>if (a</b) {}</SCRIPT >d"),
        "d"
    );
    assert_eq!(t("<style>a::after{content:'</p>'}</style>e"), "e");
    assert_eq!(t("<script>unterminated <p>never shown"), "");
}

#[test]
fn hidden_elements_are_dropped() {
    let html = "<div hidden>h1</div><div aria-hidden=\"true\">h2</div>\
                <div style=\"color:red; DISPLAY : none\">h3</div>\
                <span style='visibility:hidden'>h4</span><p>shown</p>\
                <div aria-hidden=false>shown2</div><div style=\"display:block\">shown3</div>\
                <dialog>closed dialog</dialog><dialog open>open dialog</dialog>";
    assert_eq!(t(html), "shown\n\nshown2\n\nshown3\n\nopen dialog");
    let keep = ExtractOptions {
        skip_hidden: false,
        ..opts()
    };
    let all = extract_text(html, &keep).unwrap().text;
    assert!(all.contains("h1") && all.contains("h3") && all.contains("h4"));
    // nested content of a hidden element stays hidden; text after it is back
    assert_eq!(t("<div hidden><div><p>x</p></div><b>y</b></div>z"), "z");
}

#[test]
fn comments_doctype_cdata_and_pis_are_dropped() {
    let html = "<!DOCTYPE html><?xml version=\"1.0\"?><p>a<!-- hidden <p>comment</p> -->b</p>\
                <![CDATA[ cdata ]]><!----><!---->c<!-->d";
    assert_eq!(t(html), "ab\n\ncd");
    assert_eq!(t("x<!-- never closed <p>y"), "x");
}

// ------------------------------------------------------------------ entities

#[test]
fn entities_are_decoded() {
    assert_eq!(
        t("<p>&lt;tag&gt; &amp; &quot;q&quot; &#39;s&#x27;</p>"),
        "<tag> & \"q\" 's'"
    );
    assert_eq!(
        t("<p>&euro;&hellip;&mdash;&rarr;&Aacute;&frac12;</p>"),
        "€…—→Á½"
    );
    assert_eq!(
        t("<p>&copy 2020 &amp AT&T &notanentity;</p>"),
        "© 2020 & AT&T ¬anentity;"
    );
    assert_eq!(
        t("<p>&#128512; &#x1F600; &#150;</p>"),
        "\u{1F600} \u{1F600} \u{2013}"
    );
    assert_eq!(t("<p>&bogus; & &#xZZ;</p>"), "&bogus; & &#xZZ;");
    assert_eq!(t("<p>a&#32;&#32;b&#10;c</p>"), "a b c");
}

// ------------------------------------------------------------------ title and lang

#[test]
fn title_is_extracted() {
    let e = ex("<html><head><title>\n  A &amp; B  \n</title></head><body>x</body></html>");
    assert_eq!(e.title.as_deref(), Some("A & B"));
    assert_eq!(e.text, "x");
    let e = ex("<head><meta property=\"og:title\" content=\"OG &amp; Title\"></head><p>x</p>");
    assert_eq!(e.title.as_deref(), Some("OG & Title"));
    let e = ex("<title>Real</title><meta property=og:title content=OG>");
    assert_eq!(e.title.as_deref(), Some("Real"));
    assert_eq!(ex("<TITLE>Up</TITLE>").title.as_deref(), Some("Up"));
    assert_eq!(ex("<title>   </title>").title, None);
    assert_eq!(ex("<p>no title</p>").title, None);
    assert_eq!(
        ex("<title>a <b> c</title>").title.as_deref(),
        Some("a <b> c")
    );
}

#[test]
fn lang_hint_is_normalised() {
    assert_eq!(ex("<html lang=\"en\">").lang_hint.as_deref(), Some("en"));
    assert_eq!(
        ex("<html lang='de-AT'>").lang_hint.as_deref(),
        Some("de-at")
    );
    assert_eq!(ex("<HTML LANG=en_US>").lang_hint.as_deref(), Some("en-us"));
    assert_eq!(
        ex("<html><meta http-equiv=\"Content-Language\" content=\"fr-CA\">")
            .lang_hint
            .as_deref(),
        Some("fr-ca")
    );
    assert_eq!(
        ex("<meta name=language content=\"nl\">")
            .lang_hint
            .as_deref(),
        Some("nl")
    );
    assert_eq!(ex("<html lang=\"\"><p>x").lang_hint, None);
    assert_eq!(ex("<html lang=\"not a lang\">").lang_hint, None);
    assert_eq!(ex("<p>x</p>").lang_hint, None);
    assert_eq!(
        ex("<meta property=og:locale content=pt_BR>")
            .lang_hint
            .as_deref(),
        Some("pt-br")
    );
    assert_eq!(
        ex("<html lang=es><meta http-equiv=content-language content=en>")
            .lang_hint
            .as_deref(),
        Some("es")
    );
}

// ------------------------------------------------------------------ broken HTML

#[test]
fn implied_end_tags() {
    assert_eq!(
        t("<p>one<p>two<div>three</div>four"),
        "one\n\ntwo\n\nthree\n\nfour"
    );
    assert_eq!(t("<ul><li>a<li>b</ul>after"), "- a\n- b\n\nafter");
    assert_eq!(t("<dl><dt>term<dd>def</dl>"), "term\n\ndef");
    assert_eq!(t("<p>x<h2>y</h2>"), "x\n\ny");
}

#[test]
fn stray_and_unclosed_tags() {
    assert_eq!(t("</div></p></span>text</li></td>"), "text");
    assert_eq!(t("<div><span>unclosed <b>bold"), "unclosed bold");
    assert_eq!(t("<div>a</span>b</div>c"), "ab\n\nc");
    assert_eq!(t("<table><td>cell</div>more</table>x"), "cellmore\n\nx");
}

#[test]
fn odd_tokens() {
    assert_eq!(t("<p>a < b > c</p>"), "a < b > c");
    assert_eq!(t("<p>1<2 and 3>2, <3 </p>"), "1<2 and 3>2, <3");
    assert_eq!(t("<P CLASS=x ID=y>Upper</P>"), "Upper");
    assert_eq!(
        t("<div class=a id=b data-x=1 title='a>b'>quoted gt</div>"),
        "quoted gt"
    );
    assert_eq!(t("<div title=\"x\ny>z\">multi</div>"), "multi");
    assert_eq!(t("<p>a\0b</p>"), "ab");
    assert_eq!(t("\u{feff}<p>bom</p>"), "bom");
    assert_eq!(t("a </ b> c"), "a c");
    assert_eq!(t("a </"), "a </");
    assert_eq!(t("<p>end <"), "end <");
    assert_eq!(t("<p>x</p><div unterminated=\"attr>gone"), "x");
    assert_eq!(t("<a href=x><a href=y>nested</a></a>"), "nested");
    assert_eq!(t("<custom-el>custom</custom-el><x:y>ns</x:y>"), "customns");
}

#[test]
fn foreign_content() {
    assert_eq!(t("<svg/><p>after</p>"), "after");
    assert_eq!(
        t("<p>a<svg><path d=x /><g><div>breakout</div>"),
        "a\n\nbreakout"
    );
    assert_eq!(t("<math><mi>x</mi></math> = 1"), "x = 1");
}

#[test]
fn more_edge_cases() {
    let e = ex("<svg><title>Icon</title></svg><title>Real</title><p>x</p>");
    assert_eq!(e.title.as_deref(), Some("Real"));
    assert_eq!(e.text, "x");
    assert_eq!(
        t("<div class=foo hidden>h</div><div class=bar>v</div>"),
        "v"
    );
    assert_eq!(t("<p>a<noscript><p>no js</p></noscript>b</p>"), "ab");
    assert_eq!(
        t("<select><option>a<option>b<optgroup><option>c</select>after"),
        "after"
    );
    assert_eq!(t("<p>&AMP; &LT;x&GT; &Eacute;</p>"), "& <x> É");
    assert_eq!(t("<xmp><b>literal</b></xmp>"), "<b>literal</b>");
    assert_eq!(t("<plaintext><p>all raw"), "<p>all raw");
    assert_eq!(t("<textarea><p>typed</p></textarea>z"), "z");
    assert_eq!(t("<p>x<!-- a -- b --! -->y</p>"), "xy");
    assert_eq!(t("<listing>\n  keep  ws</listing>"), "  keep  ws");
    assert_eq!(
        t("<ul><li>one<ol><li>two</ol></ul><p>p</p>"),
        "- one\n  - two\n\np"
    );
}

#[test]
fn deep_nesting_does_not_overflow() {
    let n = 200_000;
    let html = format!("{}deep{}", "<div>".repeat(n), "</div>".repeat(n));
    assert_eq!(t(&html), "deep");
    let html = format!("{}x", "<span><b>".repeat(n));
    assert_eq!(t(&html), "x");
    let html = "<p>a</p>".repeat(n) + &"</span>".repeat(n);
    assert_eq!(t(&html).len(), 3 * n - 2);
}

#[test]
fn huge_inputs() {
    let para = "<p>Lorem ipsum dolor sit amet, <a href='#'>consectetur</a> adipiscing elit.</p>\n";
    let html = para.repeat(50_000);
    let s = t(&html);
    assert_eq!(s.matches("Lorem").count(), 50_000);
    let html = "x".repeat(5_000_000);
    assert_eq!(t(&html).len(), 5_000_000);
}

// ------------------------------------------------------------------ blocks API

#[test]
fn block_features() {
    let html = "<body><nav class=\"main-nav\"><ul><li><a href=/>Home</a></li></ul></nav>\
                <div id=\"content\" class=\"post entry\"><p>Some <a href=x>link</a> text.</p></div>\
                <footer><p>(c) me</p></footer><div class=\"comments\">Nice</div></body>";
    let b = blocks(html, &opts());
    assert_eq!(b.len(), 4);
    assert_eq!(b[0].text, "Home");
    assert_eq!(b[0].kind, BlockKind::ListItem);
    assert!(b[0].bullet);
    assert_eq!(b[0].list_depth, 1);
    assert!(b[0].hints.contains(Hints::NAV));
    assert_eq!(b[0].link_chars, 4);
    assert_eq!(b[0].link_density(), 1.0);
    assert_eq!(b[1].tag, "p");
    assert_eq!(b[1].text_chars, 15);
    assert_eq!(b[1].link_chars, 4);
    assert!(b[1].hints.contains(Hints::CONTENT));
    assert!(!b[1].hints.is_boilerplate());
    assert!(
        b[1].path.contains("div#content.post.entry > p"),
        "{}",
        b[1].path
    );
    assert!(b[2].hints.contains(Hints::FOOTER));
    assert!(b[3].hints.contains(Hints::COMMENT));
    assert!(b[3].depth >= 1);
    // extract_text skips path building
    let doc = parse_document(html, &opts());
    assert_eq!(doc.blocks, b);
    assert_eq!(render_blocks(&b, &opts()), t(html));
}

// ------------------------------------------------------------------ main content

fn main_opts() -> ExtractOptions {
    ExtractOptions {
        mode: ExtractMode::Main,
        ..opts()
    }
}

fn m(html: &str) -> String {
    extract_text(html, &main_opts()).unwrap().text
}

const P1: &str = "The committee met on Tuesday to discuss the new budget, which includes \
                  funding for schools, roads and the public library system.";
const P2: &str = "Several members argued that the library deserved a larger share, citing \
                  record visitor numbers and the growing demand for digital lending.";
const P3: &str = "A final vote is expected next month, after a round of public hearings in \
                  each district where residents can comment on the proposal.";

fn article_page() -> String {
    format!(
        "<html><head><title>Budget</title></head><body>\
         <div id=cookie-banner><p>We use cookies to improve your experience on this site. \
         By continuing you accept our cookie policy and terms.</p><button>OK</button></div>\
         <header class=site-header><a href=/>Daily Town News</a>\
         <nav class=main-nav><ul><li><a href=/a>Politics</a></li><li><a href=/b>Sport</a></li>\
         <li><a href=/c>Culture</a></li></ul></nav></header>\
         <div class=breadcrumb><a href=/>Home</a> &gt; <a href=/p>Politics</a></div>\
         <div id=page><main><article>\
         <h1>Council debates budget</h1>\
         <div class=share-buttons><a href=#>Share on Facebook</a> <a href=#>Tweet</a></div>\
         <p>{P1}</p><h2>Library funding</h2><p>{P2}</p>\
         <ul><li>Schools: 40%</li><li>Roads: 35%</li><li>Library: 25%</li></ul>\
         <table><tr><th>Item</th><th>Cost</th></tr><tr><td>Roads</td><td>3.5m</td></tr></table>\
         <p>{P3}</p>\
         <div class=advert><p>Buy the best mattress in town today, huge discounts this week only \
         at our partner store downtown!</p></div>\
         <section class=related-posts><h3>Related</h3><ul>\
         <li><a href=/x>Mayor opens new bridge after two years of construction work</a></li>\
         <li><a href=/y>School board elects new chair in surprise vote on Monday</a></li></ul></section>\
         </article>\
         <section id=comments><h3>3 comments</h3><div class=comment><p>I think the library \
         should get even more money, it is the best place in town for kids and families.</p></div>\
         </section></main>\
         <aside class=sidebar><h3>Most read</h3><p>Local bakery wins national prize for its \
         sourdough bread, beating two hundred other bakeries from all over the country.</p></aside>\
         </div><footer><p>Copyright 2024 Daily Town News. All rights reserved. Contact us at \
         news@example.com or visit our office.</p></footer></body></html>"
    )
}

#[test]
fn main_keeps_the_article_body() {
    let text = m(&article_page());
    let expected = format!(
        "Council debates budget\n\n{P1}\n\nLibrary funding\n\n{P2}\n\n\
         - Schools: 40%\n- Roads: 35%\n- Library: 25%\n\nItem | Cost\nRoads | 3.5m\n\n{P3}"
    );
    assert_eq!(text, expected);
}

#[test]
fn main_drops_boilerplate() {
    let text = m(&article_page());
    for gone in [
        "cookies",
        "Daily Town News",
        "Politics",
        "Home",
        "Share on Facebook",
        "mattress",
        "Mayor opens",
        "Related",
        "comments",
        "best place in town",
        "Most read",
        "sourdough",
        "Copyright",
    ] {
        assert!(!text.contains(gone), "{gone:?} in {text:?}");
    }
    // Plain mode still has everything.
    let plain = t(&article_page());
    assert!(plain.contains("sourdough") && plain.contains("Copyright"));
}

#[test]
fn main_finds_content_without_article_markup() {
    // No article/main elements, no class hints: link density and text length decide.
    let links: String = (0..12)
        .map(|i| format!("<li><a href=/{i}>Section number {i}</a></li>"))
        .collect();
    let html = format!(
        "<div><ul>{links}</ul></div><div><div><h1>Report</h1><p>{P1}</p><p>{P2}</p>\
         <p>{P3}</p></div></div><div><ul>{links}</ul><p><a href=/t>Terms</a> | \
         <a href=/p>Privacy</a></p></div>"
    );
    assert_eq!(m(&html), format!("Report\n\n{P1}\n\n{P2}\n\n{P3}"));
}

#[test]
fn main_drops_teaser_lists() {
    let teasers: String = (0..5)
        .map(|i| {
            format!(
                "<div class=story><h2><a href=/{i}>Other story number {i}</a></h2>\
                 <p>This is the excerpt of another story that is listed below the article \
                 so that readers keep clicking, number {i}.</p></div>"
            )
        })
        .collect();
    let html = format!(
        "<div id=wrap><div id=headline><h1>The real story</h1></div>\
         <div id=story><p>{P1}</p></div><div id=more>{teasers}</div></div>"
    );
    assert_eq!(m(&html), format!("The real story\n\n{P1}"));
}

/// `n` distinct paragraphs of ordinary prose about `topic`, as HTML.
fn prose(topic: &str, n: usize) -> String {
    prose_text(topic, n)
        .split("\n\n")
        .map(|p| format!("<p>{p}</p>"))
        .collect()
}

/// The same paragraphs as main mode prints them.
fn prose_text(topic: &str, n: usize) -> String {
    (0..n)
        .map(|i| {
            format!(
                "Paragraph {i} about {topic} explains what happened, who was involved and why \
                 it matters to the people who live and work in the area today."
            )
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

#[test]
fn main_stops_at_related_stories_without_class_hints() {
    // "You may like" with whole stories after a short article, no class names at all:
    // the stories outweigh the article, which must still come out whole and alone.
    let stories: String = (0..3)
        .map(|i| {
            format!(
                "<div><h2>Other story {i}</h2>{}</div>",
                prose("other news", 4)
            )
        })
        .collect();
    let html = format!(
        "<div><div><h1>The real story</h1>{}</div>\
         <div><h3>You may like</h3>{stories}</div></div>",
        prose("the real story", 3)
    );
    assert_eq!(
        m(&html),
        format!("The real story\n\n{}", prose_text("the real story", 3))
    );
}

#[test]
fn main_keeps_article_text_after_an_inline_related_box() {
    // An inline "Related articles" box between paragraphs of the same body is dropped,
    // and the article goes on after it.
    let html = format!(
        "<div><h1>Budget</h1><div class=body><p>{P1}</p>\
         <div><h4>Related articles</h4><ul><li><a href=/a>Mayor opens new bridge after two \
         years of work</a></li></ul></div><p>{P2}</p><p>{P3}</p></div></div>"
    );
    assert_eq!(m(&html), format!("Budget\n\n{P1}\n\n{P2}\n\n{P3}"));
}

#[test]
fn main_stops_at_a_comment_thread_without_class_hints() {
    let html = format!(
        "<div><h1>Budget</h1><p>{P1}</p><p>{P2}</p><p>{P3}</p>\
         <h3>12 Comments</h3><div><p>Anna, 3 May</p>{}</div>\
         <h3>Leave a Reply</h3><p>Your email address will not be published. Required fields \
         are marked.</p></div>",
        prose("my own opinion", 6)
    );
    assert_eq!(m(&html), format!("Budget\n\n{P1}\n\n{P2}\n\n{P3}"));
}

#[test]
fn main_drops_newsletter_and_cookie_boxes() {
    let html = format!(
        "<div id=cookie-consent><p>This website uses cookies to give you the best experience. \
         Accept all cookies or choose which ones we may use.</p></div>\
         <article><h1>Budget</h1><p>{P1}</p>\
         <div class=newsletter-signup><h3>Get our morning briefing</h3><p>Sign up for the \
         newsletter and receive the most important local stories every morning for free.</p>\
         </div><p>{P2}</p><p>{P3}</p></article>"
    );
    assert_eq!(m(&html), format!("Budget\n\n{P1}\n\n{P2}\n\n{P3}"));
}

#[test]
fn main_keeps_the_first_story_of_a_feed() {
    // Infinite scroll: the requested story, then whole next stories as sibling articles.
    let feed: String = ["first", "second", "third"]
        .iter()
        .map(|t| format!("<article><h2>The {t} story</h2>{}</article>", prose(t, 7)))
        .collect();
    let html = format!("<main><div class=list>{feed}</div></main>");
    assert_eq!(
        m(&html),
        format!("The first story\n\n{}", prose_text("first", 7))
    );
}

#[test]
fn main_drops_sidebar_widgets_heavier_than_the_article() {
    let widgets: String = (0..3)
        .map(|i| {
            format!(
                "<aside class=\"widget widget-sidebar\"><h3>Widget {i}</h3>{}</aside>",
                prose("the party program", 4)
            )
        })
        .collect();
    let html = format!(
        "<div id=page><div id=content><h1>Demo on Saturday</h1>{}</div>\
         <div id=secondary>{widgets}</div></div>",
        prose("the demonstration", 8)
    );
    assert_eq!(
        m(&html),
        format!("Demo on Saturday\n\n{}", prose_text("the demonstration", 8))
    );
}

#[test]
fn main_ignores_hints_that_cover_the_whole_page() {
    // A wrapper class that reads as "sidebar" must not wipe the page.
    let html = format!(
        "<div class=\"layout has-sidebar\"><nav><a href=/>Home</a> <a href=/x>About</a></nav>\
         <div class=post><p>{P1}</p><p>{P2}</p></div></div>"
    );
    assert_eq!(m(&html), format!("{P1}\n\n{P2}"));
}

#[test]
fn main_falls_back_when_there_is_no_clear_content() {
    // Only short texts: keep what is not navigation.
    let html = "<nav><a href=/>Home</a> <a href=/b>Blog</a></nav>\
                <div><h2>Opening hours</h2><p>Mon-Fri 9-17</p><p>Sat 10-14</p></div>\
                <footer>Imprint</footer>";
    assert_eq!(m(html), "Opening hours\n\nMon-Fri 9-17\n\nSat 10-14");
    // Only links: never empty when the page has text.
    assert_eq!(m("<a href=/a>One</a> <a href=/b>Two</a>"), "One Two");
    assert_eq!(m("<nav><p>Menu only</p></nav>"), "Menu only");
    assert_eq!(m("just some text"), "just some text");
}

#[test]
fn main_handles_empty_and_broken_input() {
    assert_eq!(m(""), "");
    assert_eq!(m("<html><body></body></html>"), "");
    assert_eq!(m("<p"), "");
    let e = extract_text("<title>T</title><p>x</p>", &main_opts()).unwrap();
    assert_eq!(e.title.as_deref(), Some("T"));
    assert_eq!(e.text, "x");
}

#[test]
fn main_blocks_match_main_text() {
    let html = article_page();
    let b = main_blocks(&html, &opts());
    assert_eq!(render_blocks(&b, &opts()), m(&html));
    assert!(b.iter().all(|b| !b.path.is_empty() && b.node > 0));
}

#[test]
fn main_mode_is_robust_on_generated_junk() {
    for n in 0..200u32 {
        let mut s = String::new();
        for i in 0..n % 37 {
            s.push_str(match (n * 7 + i * 13) % 9 {
                0 => "<div class=nav>",
                1 => "</div>",
                2 => "<p>some words here and there, a sentence that is long enough to count",
                3 => "<a href=x>link text</a>",
                4 => "<h1>T",
                5 => "</h1>",
                6 => "<article>",
                7 => "<li>",
                _ => "</p></ul>",
            });
        }
        let text = m(&s);
        if !t(&s).is_empty() {
            assert!(!text.is_empty(), "{s}");
        }
    }
}

#[test]
fn batch_preserves_order() {
    let docs: Vec<String> = (0..200)
        .map(|i| format!("<title>T{i}</title><p>doc {i}</p>"))
        .collect();
    let refs: Vec<&str> = docs.iter().map(|s| s.as_str()).collect();
    let out = extract_batch(&refs, &opts());
    assert_eq!(out.len(), 200);
    for (i, r) in out.into_iter().enumerate() {
        let r = r.unwrap();
        assert_eq!(r.text, format!("doc {i}"));
        assert_eq!(r.title, Some(format!("T{i}")));
    }
}

// ------------------------------------------------------------------ robustness

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const PIECES: &[&str] = &[
    "<",
    ">",
    "/",
    "</",
    "<!--",
    "-->",
    "<!",
    "<?",
    "]]>",
    "<![CDATA[",
    "&",
    "&amp;",
    "&#",
    "&#x",
    ";",
    "\"",
    "'",
    "=",
    " ",
    "\n",
    "\0",
    "<p>",
    "</p>",
    "<div>",
    "</div>",
    "<li>",
    "<ul>",
    "<td>",
    "<tr>",
    "<table>",
    "</table>",
    "<script>",
    "</script>",
    "<style>",
    "</style>",
    "<pre>",
    "</pre>",
    "<svg>",
    "</svg>",
    "<math>",
    "<br>",
    "<br/>",
    "<a href=x>",
    "</a>",
    "<title>",
    "</title>",
    "<textarea>",
    "<noscript>",
    "<template>",
    "<select>",
    "<option>",
    "hidden",
    " style=display:none",
    "<div hidden>",
    "<span aria-hidden=true>",
    "text",
    "ünï",
    "日本語",
    "\u{a0}",
    "\u{ad}",
    "&nbsp",
    "&eacute;",
    "&#128;",
    "<html lang=en>",
    "<meta content=x property=og:title>",
    "<h1>",
    "</h1>",
    "<xmp>",
    "<plaintext>",
    "<dialog>",
    "<!DOCTYPE html>",
    "<x-y>",
    "</x-y>",
    "<b>",
    "</b>",
];

#[test]
fn random_html_never_panics() {
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    for _ in 0..3000 {
        let n = rng.below(60);
        let mut s = String::new();
        for _ in 0..n {
            s.push_str(PIECES[rng.below(PIECES.len())]);
        }
        let e = extract_text(&s, &opts()).unwrap();
        assert!(!e.text.contains("\n\n\n"), "{s:?}");
        let _ = blocks(&s, &opts());
    }
}

#[test]
fn mutated_html_never_panics() {
    let base = "<!DOCTYPE html><html lang=en><head><title>T &amp; t</title>\
                <script>if (a < b) { x = '</div>'; }</script><style>p{}</style></head>\
                <body class=home><nav><ul><li><a href='/'>Home</a><li>About</ul></nav>\
                <article><h1>Head</h1><p>Text &eacute; <b>bold</b><br>line</p>\
                <table><tr><td>a<td>b</table><pre>  code\n  more</pre>\
                <div hidden>no</div><!-- c --></article></body></html>";
    let mut rng = XorShift(12345);
    let chars: Vec<char> = base.chars().collect();
    for _ in 0..3000 {
        let mut v = chars.clone();
        for _ in 0..1 + rng.below(8) {
            let i = rng.below(v.len().max(1));
            match rng.below(4) {
                0 => {
                    v.remove(i.min(v.len() - 1));
                }
                1 => v.insert(
                    i,
                    ['<', '>', '/', '"', '\'', '&', '-', '!', '\0', ';'][rng.below(10)],
                ),
                2 => {
                    let j = rng.below(v.len());
                    let k = i.min(v.len() - 1);
                    v.swap(k, j);
                }
                _ => v.truncate(i),
            }
            if v.is_empty() {
                v.push('<');
            }
        }
        let s: String = v.into_iter().collect();
        let _ = extract_text(&s, &opts()).unwrap();
        let _ = blocks(&s, &opts());
    }
}

// ------------------------------------------------------------------ real pages

fn pages_dir() -> Option<std::path::PathBuf> {
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut cands = vec![];
    if let Ok(d) = std::env::var("ALIGNKIT_HTML_PAGES") {
        cands.push(std::path::PathBuf::from(d));
    }
    cands.push(manifest.join("../../shared/data/html/pages"));
    cands.push(manifest.join("../../../shared/data/html/pages"));
    cands.push(std::path::PathBuf::from("/work/shared/data/html/pages"));
    cands.into_iter().find(|d| d.is_dir())
}

#[test]
fn real_pages_sanity() {
    use std::io::Read;
    let Some(dir) = pages_dir() else {
        eprintln!("skipping real_pages_sanity: no shared/data/html/pages directory");
        return;
    };
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".html.gz"))
        .collect();
    files.sort();
    if files.is_empty() {
        eprintln!(
            "skipping real_pages_sanity: {} holds no .html.gz",
            dir.display()
        );
        return;
    }
    let (mut nonempty, mut titled, mut clean, mut langs) = (0, 0, 0, 0);
    for f in &files {
        let raw = std::fs::read(f).unwrap();
        let mut bytes = Vec::new();
        flate2::read::MultiGzDecoder::new(&raw[..])
            .read_to_end(&mut bytes)
            .unwrap();
        let html = String::from_utf8_lossy(&bytes);
        let e = extract_text(&html, &opts()).unwrap();
        let _ = blocks(&html, &opts());
        let other = ExtractOptions {
            list_bullets: false,
            skip_hidden: false,
            ..opts()
        };
        let all = extract_text(&html, &other).unwrap();
        assert!(all.text.len() + 64 >= e.text.len() / 2, "{}", f.display());
        if e.text.len() > 200 {
            nonempty += 1;
        }
        if e.title.as_deref().is_some_and(|t| !t.is_empty()) {
            titled += 1;
        }
        if e.lang_hint.is_some() {
            langs += 1;
        }
        assert!(!e.text.contains("\n\n\n"), "{}", f.display());
        let leaky = e
            .text
            .lines()
            .any(|l| l.contains("function(") || l.contains("<script") || l.contains("{display:"));
        if !leaky {
            clean += 1;
        }
    }
    let n = files.len();
    eprintln!("real pages: {n} files, {nonempty} non-empty, {titled} titled, {langs} with lang, {clean} clean");
    assert!(nonempty * 100 >= n * 95, "non-empty {nonempty}/{n}");
    assert!(titled * 100 >= n * 90, "titled {titled}/{n}");
    assert!(clean * 100 >= n * 95, "clean {clean}/{n}");
}

#[test]
fn main_drops_captions_and_bootstrap_hidden_blocks() {
    let html = format!(
        "<article><h1>T</h1><p>{P1}</p><figure><img src=x><figcaption>A caption that is \
         long enough to count as a paragraph of text on its own.</figcaption></figure>\
         <p>{P2}</p><div class=\"d-none d-print-block\">Citation: shown in print only, long \
         enough to count as content otherwise.</div><div class=\"d-none d-md-block\">{P3}</div>\
         </article>"
    );
    assert_eq!(m(&html), format!("T\n\n{P1}\n\n{P2}\n\n{P3}"));
    // Plain mode keeps them (hints are not used there).
    assert!(t(&html).contains("caption") && t(&html).contains("Citation"));
}

#[test]
fn main_keeps_title_and_standfirst_from_the_article_header() {
    let html = format!(
        "<nav><a href=/>Home</a> <a href=/n>News</a></nav><article>\
         <header class=article-header><h2>A headline that is long enough</h2>\
         <p class=lead>The standfirst sums up the whole story in one sentence.</p>\
         <div class=byline><a href=/a>Jane Doe</a></div>\
         <span class=share><a href=#>Share</a></span></header>\
         <div class=body><p>{P1}</p><p>{P2}</p><p>{P3}</p></div></article>"
    );
    assert_eq!(
        m(&html),
        format!(
            "A headline that is long enough\n\n\
             The standfirst sums up the whole story in one sentence.\n\n{P1}\n\n{P2}\n\n{P3}"
        )
    );
}

#[test]
fn main_drops_comment_sections_larger_than_the_article() {
    let body: String = (0..8).map(|i| format!("<p>{i}: {P1} {P2}</p>")).collect();
    let comments: String = (0..30)
        .map(|i| format!("<li class=comment><p>Comment {i}: {P3} {P2}</p></li>"))
        .collect();
    let html = format!(
        "<article><h1>Title</h1>{body}</article>\
         <div id=comments><h2>Comments</h2><ol>{comments}</ol></div>"
    );
    let text = m(&html);
    assert!(text.starts_with("Title\n\n0: "), "{text}");
    assert!(text.contains("7: ") && !text.contains("Comment"), "{text}");
}

// ------------------------------------------------------------------ wiki pages

/// A MediaWiki-like page (small-wiki style): the notice template is a plain table without
/// class, the infobox a table before the prose, and the prose links most of its nouns.
fn wiki_page() -> String {
    let l = |t: &str| format!("<a href=\"/wiki/{t}\" title=\"{t}\">{t}</a>");
    let edit = |n: u32| {
        format!(
            "<span class=\"mw-editsection\"><span class=\"mw-editsection-bracket\">[</span>\
             <a href=\"/w/index.php?action=edit&amp;section={n}\">editar</a>\
             <span class=\"mw-editsection-divider\"> | </span>\
             <a href=\"/w/index.php?action=edit&amp;section={n}\">modificar o codigo</a>\
             <span class=\"mw-editsection-bracket\">]</span></span>"
        )
    };
    let langs: String = [
        "Asturianu",
        "Brezhoneg",
        "Català",
        "Deutsch",
        "English",
        "Español",
    ]
    .iter()
    .map(|n| format!("<li class=\"interlanguage-link\"><a href=\"/{n}\">{n}</a></li>"))
    .collect();
    format!(
        "<html><head><title>Villar - Wiki</title></head><body>\
         <div id=\"mw-navigation\"><nav id=\"p-navigation\" class=\"mw-portlet\"><ul>\
         <li><a href=\"/\">Portada</a></li><li><a href=\"/r\">Cambeos recients</a></li>\
         <li><a href=\"/a\">Pachina a l'azar</a></li></ul></nav></div>\
         <main id=\"content\" class=\"mw-body\" role=\"main\">\
         <header class=\"mw-body-header\"><h1 id=\"firstHeading\">Villar</h1>\
         <div id=\"p-lang-btn\" class=\"vector-dropdown mw-portlet-lang\"><ul>{langs}</ul></div>\
         </header>\
         <div id=\"bodyContent\" class=\"vector-body\"><div id=\"siteSub\" class=\"noprint\">De Wiki</div>\
         <div id=\"mw-content-text\" class=\"mw-body-content\"><div class=\"mw-parser-output\">\
         <table style=\"margin:0 auto; width:80%\"><tbody><tr><td><img src=\"i.png\"></td>\
         <td>This article is being converted to the official spelling of the wiki \
         ({os}). You can help by revising the article, making the changes needed and \
         removing this template afterwards.</td></tr></tbody></table>\
         <table class=\"infobox geography\"><tr><td colspan=2><b>Villar</b></td></tr>\
         <tr><td>{mun} de {reg}</td></tr><tr><td>Superficie</td><td>19,01 km²</td></tr>\
         <tr><td>Población</td><td>68 hab. (2013)</td></tr></table>\
         <p><b>Villar</b> ye un {mun} d'a {prov}, en a {com} de {reg}, {esp}, comarca de \
         {alc} y partiu chudicial de {gua}.</p>\
         <p>A suya {pob} ye de 84 habitants ({y2007}), en una {sup} de 19,01 km² y una \
         densidat de población de 4,42 hab/km².</p>\
         <h2><span class=\"mw-headline\" id=\"Cheografia\">Cheografía</span>{e1}</h2>\
         <p>Ye situato a 860 {met} d'{alt} sobre o ran d'a {mar}, a una {dis} de 47 km de \
         {gua}, a {cap} d'a suya provincia, y d'o suyo termin fa parti o {lug} de Monteumbría.</p>\
         <h2><span class=\"mw-headline\" id=\"Historia\">Historia</span>{e2}</h2>\
         <p>Villar ye citato en as {rel}, feitas por {fel} de {cas} en {y1578}.</p>\
         <h2><span class=\"mw-headline\" id=\"Alcaldes\">Alcaldes</span>{e3}</h2>\
         <table><caption>Lista d'alcaldes</caption><tr><th>Lechislatura</th><th>Nombre</th>\
         <th>{par}</th></tr><tr><td>{y1979}–{y1983}</td><td></td><td></td></tr>\
         <tr><td>{y2007}–{y2011}</td><td>Hilario López</td><td>{psoe}</td></tr></table>\
         <h2><span class=\"mw-headline\" id=\"Molimentos\">Molimentos</span>{e4}</h2>\
         <ul><li>Ilesia parroquial de l'Asunción, d'estilo {rom}, d'o {s13}.\
         <sup class=\"reference\"><a href=\"#cite_note-1\">[1]</a></sup> Fue parcialment \
         destruita en a {gce}.</li></ul>\
         <h2><span class=\"mw-headline\" id=\"Referencias\">Referencias</span>{e5}</h2>\
         <div class=\"listaref references-small\"><ol class=\"references\">\
         <li id=\"cite_note-1\"><span class=\"reference-text\">Deputación Provincial, \
         pachina web d'os municipios, consultada en chinero de 2007 y archivada en 2007.\
         </span></li></ol></div>\
         <div class=\"navbox\"><table><tr><td>Municipios d'a comarca: {m1} · {m2} · {m3} · {m4} \
         · {m5}</td></tr></table></div>\
         </div></div>\
         <div id=\"catlinks\" class=\"catlinks\">Categoría: <ul><li>{catl}</li></ul></div>\
         </div></main>\
         <footer id=\"footer\" class=\"mw-footer\"><ul><li>Zaguera edición d'ista pachina o \
         17 ago 2023. O texto ye disponible baixo a Licencia Creative Commons.</li></ul>\
         </footer></body></html>",
        os = l("Ortografía consensuada"),
        mun = l("municipio"),
        prov = l("provincia de Guadalachara"),
        com = l("comunidat autonoma"),
        reg = l("Castiella-La Mancha"),
        esp = l("Espanya"),
        alc = l("La Alcarria"),
        gua = l("Guadalachara"),
        pob = l("población"),
        y2007 = l("2007"),
        sup = l("superficie"),
        met = l("metros"),
        alt = l("altaria"),
        mar = l("mar"),
        dis = l("distancia"),
        cap = l("capital"),
        lug = l("lugar"),
        rel = l("Relaciones Topográficas de los pueblos de Espanya"),
        fel = l("Felipe II"),
        cas = l("Castiella"),
        y1578 = l("1578"),
        par = l("Partiu politico"),
        y1979 = l("1979"),
        y1983 = l("1983"),
        y2011 = l("2011"),
        psoe = l("Partido Socialista Obrero Español"),
        rom = l("romanico"),
        s13 = l("sieglo XIII"),
        gce = l("Guerra Civil espanyola"),
        m1 = l("Alhondiga"),
        m2 = l("Almoguera"),
        m3 = l("Aranzueque"),
        m4 = l("Armuña de Tajuña"),
        m5 = l("Auñón"),
        catl = l("Localidaz d'a provincia de Guadalachara"),
        e1 = edit(1),
        e2 = edit(2),
        e3 = edit(3),
        e4 = edit(4),
        e5 = edit(5),
    )
}

#[test]
fn main_keeps_wiki_prose_with_many_links() {
    let html = wiki_page();
    let text = m(&html);
    for want in [
        "Villar ye un municipio d'a provincia de Guadalachara",
        "A suya población ye de 84 habitants",
        "Cheografía",
        "Ye situato a 860 metros",
        "Historia",
        "Villar ye citato en as Relaciones",
        "Lechislatura | Nombre | Partiu politico",
        "1979–1983",
        "Ilesia parroquial",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
    assert!(text.starts_with("Villar\n\n"), "{text}");
    for unwanted in [
        "official spelling",  // notice box (a plain table)
        "Superficie",         // infobox before the prose
        "editar",             // edit-section links
        "modificar o codigo", // edit-section links
        "Deputación",         // reference list
        "Almoguera",          // navbox
        "Categoría",          // category links
        "Deutsch",            // language list
        "Portada",            // site navigation
        "Creative Commons",   // footer
    ] {
        assert!(!text.contains(unwanted), "kept {unwanted:?} in:\n{text}");
    }
    // Plain mode keeps everything, edit links included.
    let plain = t(&html);
    for want in [
        "official spelling",
        "editar",
        "Deputación",
        "Almoguera",
        "Portada",
    ] {
        assert!(plain.contains(want), "plain lost {want:?}");
    }
}

#[test]
fn linked_prose_is_not_a_link_list() {
    // Menus, tag lists and bylines alternate little text with their links: still
    // link-dense, so a long menu line next to an article is dropped.
    let menu: String = (0..12)
        .map(|i| format!("<a href=/s{i}>Section number {i}</a> | "))
        .collect();
    let html = format!(
        "<div class=top><p>{menu}</p></div><article><h1>Title</h1><p>{P1}</p><p>{P2}</p>\
         <p>{P3}</p></article>"
    );
    let text = m(&html);
    assert!(!text.contains("Section number"), "{text}");
    assert!(text.contains(P3), "{text}");
}

fn whirlwind_warc() -> Option<std::path::PathBuf> {
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let rel = "shared/data/commoncrawl/whirlwind.warc.gz";
    // <repo>/../shared, with <repo> = CARGO_MANIFEST_DIR/../..
    [
        manifest.join("../../..").join(rel),
        std::path::Path::new("/work").join(rel),
    ]
    .into_iter()
    .find(|p| p.is_file())
}

#[test]
fn main_on_real_mediawiki_capture() {
    use crate::warc::{ReaderOptions, RecordType, WarcReader};
    let Some(path) = whirlwind_warc() else {
        println!("skipping main_on_real_mediawiki_capture: whirlwind.warc.gz not present");
        return;
    };
    let reader = WarcReader::open(&path, ReaderOptions::default()).unwrap();
    let rec = reader
        .into_iter()
        .find(|r| r.record_type == RecordType::Response)
        .expect("a response record");
    assert_eq!(
        rec.target_uri(),
        Some("https://an.wikipedia.org/wiki/Escopete")
    );
    let resp = crate::http::parse_response(&rec.block).unwrap();
    let (_, charset) = resp.content_type();
    let html = crate::charset::decode_html(&resp.body, charset.as_deref()).text;
    let text = m(&html);
    let words = text.split_whitespace().count();
    assert!(text.contains("Escopete ye un municipio"), "{text}");
    assert!(text.contains("84 habitants"), "{text}");
    assert!(text.contains("Relaciones Topográficas"), "{text}");
    assert!(words >= 100, "{words} words:\n{text}");
    assert!(!text.contains("Iste articlo ye en proceso"), "{text}");
    assert!(!text.contains("modificar o codigo"), "{text}");
    assert!(
        !text.contains("Deputación Provincial de Guadalachara."),
        "{text}"
    );
    // Plain mode keeps the whole page, notice and edit links included.
    let plain = t(&html);
    assert!(plain.contains("Iste articlo ye en proceso") && plain.contains("modificar o codigo"));
}

#[test]
fn extract_mode_names() {
    assert_eq!(ExtractMode::parse("plain").unwrap(), ExtractMode::Plain);
    assert_eq!(ExtractMode::parse("main").unwrap(), ExtractMode::Main);
    let err = ExtractMode::parse("article").unwrap_err().to_string();
    assert!(err.contains("mode must be 'plain' or 'main'"), "{err}");
}
